"""Every change VoiceDesk makes to PySide6's behaviour, in one place.

Each patch is small, idempotent, tested in tests/gui/test_pyside_patches.py, and an
upstream candidate. ``apply()`` runs right after ``import PySide6``, before anything
else is imported (gui/app.py). ``VOICEDESK_PYSIDE_PATCHES=0`` leaves PySide6 stock.

1. The ``__feature__`` import hook reads every module's source. PySide6 (PYSIDE-2029)
   calls ``shibokensupport.feature.feature_imported`` for every module imported after
   it, which asks ``_mod_uses_pyside(module)``: is the text "PySide6" in the module's
   source? It answers with ``inspect.getsource``, which goes through linecache and
   tokenize for each module: ~0.1–0.3 ms a module, ~40 ms for importing aiortc and
   pyqtgraph after PySide6, and our own ~100 modules on top (bench/startup.py). The
   replacement asks the same question of the same file by reading its bytes, and
   falls back to PySide6's own answer for anything that is not a readable ``.py``
   file (extension and built-in modules, frozen apps). Upstream: PySide6's
   shibokensupport/feature.py (search the raw file, or cache per file).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from types import ModuleType

logger = logging.getLogger(__name__)

_applied = False


def apply() -> bool:
    """Install the patches (once per process); True when they are in place.

    Does nothing (False) with ``VOICEDESK_PYSIDE_PATCHES=0`` or when this PySide6 has
    no such hook to patch."""
    global _applied
    if _applied:
        return True
    if os.environ.get("VOICEDESK_PYSIDE_PATCHES", "1") == "0":
        return False
    feature = sys.modules.get("shibokensupport.feature")
    original = getattr(feature, "_mod_uses_pyside", None)
    if feature is None or not callable(original):
        logger.debug("PySide6 has no __feature__ import hook here: nothing to patch")
        return False
    feature._mod_uses_pyside = source_mentions_pyside(original)
    _applied = True
    return True


def source_mentions_pyside(original: Callable[[ModuleType], bool]) -> Callable[[ModuleType], bool]:
    """``_mod_uses_pyside`` answered from the file's bytes; ``original`` for the rest."""

    def mod_uses_pyside(module: ModuleType) -> bool:
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and path.endswith(".py"):
            try:
                with open(path, "rb") as source:
                    return b"PySide6" in source.read()
            except OSError:
                pass
        return original(module)

    return mod_uses_pyside
