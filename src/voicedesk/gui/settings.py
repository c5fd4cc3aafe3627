"""What the app remembers between runs: recent targets, the last dialer values, window state.

Values are stored as JSON text under one versioned QSettings so that types survive
every backend (INI, plist, registry) and a later version can migrate them.
Secrets are never stored: signaling headers (bearer tokens) stay in memory only.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from voicedesk.rtc.signaling.log import redact_url

logger = logging.getLogger(__name__)

SETTINGS_VERSION = 1
MAX_RECENT = 12


@dataclass(frozen=True)
class DialerState:
    target: str = "embedded:echo"
    source_kind: str = "tone"
    tone_hz: float = 440.0
    wav_path: str = ""
    ice_path: str = ""
    timeout_s: float = 15.0
    signaling: str = ""  # "" = auto (from the target)


@dataclass(frozen=True)
class Preferences:
    theme: str = "system"  # system | light | dark
    waveform_seconds: float = 2.0
    waveform_fps: int = 30
    verbose_webrtc_logs: bool = False


@dataclass(frozen=True)
class StoredState:
    dialer: DialerState = field(default_factory=DialerState)
    preferences: Preferences = field(default_factory=Preferences)
    recent_targets: tuple[str, ...] = ()


def _from_dict(cls: type, data: Any) -> Any:
    """Build a dataclass from stored data, ignoring unknown keys and wrong types."""
    default = cls()
    if not isinstance(data, dict):
        return default
    values: dict[str, object] = {}
    for f in fields(cls):
        if f.name in data:
            value, current = data[f.name], getattr(default, f.name)
            if isinstance(current, bool) and isinstance(value, bool):
                values[f.name] = value
            elif isinstance(current, float) and isinstance(value, int | float) and not isinstance(value, bool):
                values[f.name] = float(value)
            elif isinstance(current, int) and isinstance(value, int) and not isinstance(current, bool):
                values[f.name] = value
            elif isinstance(current, str) and isinstance(value, str):
                values[f.name] = value
    return replace(default, **values)


class AppSettings:
    """Typed access to the app's QSettings (organization/application set by the app)."""

    def __init__(self, qsettings: QSettings | None = None) -> None:
        self._q = qsettings or QSettings()
        stored = self._q.value("version")
        if stored is not None and str(stored) != str(SETTINGS_VERSION):
            logger.info("settings version %s found, expected %s; unknown keys are ignored", stored, SETTINGS_VERSION)

    @property
    def path(self) -> str:
        return self._q.fileName()

    def _json(self, key: str) -> Any:
        raw = self._q.value(key)
        if raw is None:
            return None
        try:
            return json.loads(str(raw))
        except ValueError:
            logger.warning("ignoring unreadable setting %s", key)
            return None

    def _put(self, key: str, value: Any) -> None:
        self._q.setValue("version", SETTINGS_VERSION)
        self._q.setValue(key, json.dumps(value))

    def load(self) -> StoredState:
        recent = self._json("recent_targets")
        return StoredState(
            dialer=_from_dict(DialerState, self._json("dialer")),
            preferences=_from_dict(Preferences, self._json("preferences")),
            recent_targets=tuple(t for t in recent if isinstance(t, str))[:MAX_RECENT]
            if isinstance(recent, list)
            else (),
        )

    def save_dialer(self, dialer: DialerState) -> None:
        self._put("dialer", asdict(replace(dialer, target=redact_url(dialer.target))))

    def save_preferences(self, preferences: Preferences) -> None:
        self._put("preferences", asdict(preferences))

    def remember_target(self, target: str) -> tuple[str, ...]:
        """Put ``target`` first in the recent list; return the new list.

        Secret query values (API keys, tokens) are stored as ``***``, never in clear."""
        target = redact_url(target)
        recent = [t for t in self.load().recent_targets if t != target]
        recent.insert(0, target)
        recent = recent[:MAX_RECENT]
        self._put("recent_targets", recent)
        return tuple(recent)

    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        geometry, state = self._q.value("window/geometry"), self._q.value("window/state")
        return (
            geometry if isinstance(geometry, QByteArray) else None,
            state if isinstance(state, QByteArray) else None,
        )

    def save_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self._q.setValue("window/geometry", geometry)
        self._q.setValue("window/state", state)

    def value(self, key: str, default: Any = None) -> Any:
        """Free-form JSON value for panels (``panels/<name>/…`` keys by convention)."""
        data = self._json(key)
        return default if data is None else data

    def set_value(self, key: str, value: Any) -> None:
        self._put(key, value)

    def sync(self) -> None:
        self._q.sync()
