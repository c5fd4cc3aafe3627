"""Registrations made by the layers above, found without importing them from below.

rtc knows no agents and media knows no speech synthesis, yet ``Call("embedded:echo")``
and ``--source say:hello`` must work from plain Python. The upper layers declare the
modules that register their entries as entry points (``pyproject.toml``:
``voicedesk.dialects``, ``voicedesk.sources``); a registry that misses a name loads
its group once and looks again. Other packages can add dialects and sources the same way.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

logger = logging.getLogger(__name__)

_loaded: set[str] = set()


def load_plugins(group: str) -> None:
    """Import every module registered under ``group`` (once per process); a plugin that
    fails to import is logged and skipped, so one broken add-on cannot stop a call."""
    if group in _loaded:
        return
    _loaded.add(group)
    for point in entry_points(group=group):
        try:
            point.load()
        except Exception as exc:  # a third-party plugin: report it, keep the built-ins working
            logger.warning("voicedesk plugin %s (%s) did not load: %s", point.name, point.value, exc)
