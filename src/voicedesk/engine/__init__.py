"""The window's media engine in its own process (see docs/DESIGN.md, "The engine process").

``host`` is the child's main, ``client`` the window's side (``EngineProcess``,
``RemoteCall``), ``rings`` the shared-memory audio rings, ``protocol`` the messages. The
CLI, scenarios, the pytest plugin and load run calls in-process and never come here.
"""

from __future__ import annotations

import os

from voicedesk.errors import ConfigError

ENGINE_ENV = "VOICEDESK_ENGINE"
MODES = ("process", "inprocess")
DEFAULT_MODE = "process"


def engine_mode(choice: str | None = None) -> str:
    """``choice``, else ``$VOICEDESK_ENGINE``, else ``process``; ConfigError for anything else."""
    value = (choice or os.environ.get(ENGINE_ENV) or DEFAULT_MODE).strip().lower()
    if value not in MODES:
        raise ConfigError(f"engine must be process or inprocess, not {value!r} ({ENGINE_ENV} or --engine)")
    return value
