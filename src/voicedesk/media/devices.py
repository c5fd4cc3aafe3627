"""Audio devices through sounddevice (PortAudio): listing, choosing, and what went wrong.

sounddevice is imported lazily: a missing PortAudio library must become a
``DeviceError`` the user can read ("PortAudio library not found …"), not an
import-time crash of the whole app. PortAudio reads the device list once when it
initializes, so ``list_devices(refresh=True)`` re-initializes it (only while no
stream of ours is open) to see a sound server that started after us.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from voicedesk.errors import DeviceError

logger = logging.getLogger(__name__)

Direction = Literal["input", "output"]

NO_DEVICES_HINT = (
    "is a sound server (PulseAudio/PipeWire) running and reachable? `voicedesk devices` lists what PortAudio sees"
)

_lock = threading.Lock()
_open_streams = 0


class NoAudioDeviceError(DeviceError):
    """PortAudio sees no device at all for a direction (no sound server, no card)."""


@dataclass(frozen=True)
class AudioDevice:
    index: int
    name: str
    hostapi: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    default_input: bool = False
    default_output: bool = False

    def has(self, direction: Direction) -> bool:
        return (self.max_input_channels if direction == "input" else self.max_output_channels) > 0

    def describe(self) -> str:
        return f"#{self.index} {self.name!r} ({self.hostapi}, {self.default_samplerate:g} Hz)"


@dataclass(frozen=True)
class AudioDeviceNotice:
    """Something the user should know about a device: a fallback, a device lost mid-call."""

    direction: Direction
    message: str


NoticeListener = Callable[[AudioDeviceNotice], None]


class DeviceNotices:
    """Mixin for the microphone and the speaker: what went wrong with a device, told to
    listeners (the window, the CLI) and kept for late ones. List it first: a track's
    own ``add_listener`` (pyee's, for events) takes other arguments."""

    notice_direction: Direction

    def _init_notices(self, listener: NoticeListener | None) -> None:
        self.notices: list[AudioDeviceNotice] = []
        self._listeners: list[NoticeListener] = [listener] if listener else []

    def add_listener(self, listener: NoticeListener) -> None:
        self._listeners.append(listener)
        for notice in self.notices:  # a late listener still learns why it hears silence
            listener(notice)

    def _notice(self, message: str) -> None:
        notice = AudioDeviceNotice(self.notice_direction, message)
        self.notices.append(notice)
        # whoever listens shows it to the user; without a listener the log is the only place
        logger.log(logging.INFO if self._listeners else logging.WARNING, "%s", message)
        for listener in list(self._listeners):
            try:
                listener(notice)
            except Exception:
                logger.exception("device notice listener failed")


def sounddevice() -> ModuleType:
    """The sounddevice module, or DeviceError when the PortAudio library is missing."""
    try:
        import sounddevice as sd
    except OSError as exc:  # sounddevice raises OSError when libportaudio cannot be loaded
        raise DeviceError(f"PortAudio library not found ({exc}): install libportaudio2") from None
    except ImportError as exc:
        raise DeviceError(f"the sounddevice package is not installed ({exc})") from None
    return sd


def stream_opened() -> None:
    global _open_streams
    with _lock:
        _open_streams += 1


def stream_closed() -> None:
    global _open_streams
    with _lock:
        _open_streams = max(0, _open_streams - 1)


def refresh() -> bool:
    """Re-initialize PortAudio so its device list is current; False if a stream is open."""
    sd = sounddevice()
    with _lock:
        if _open_streams:
            return False
        try:
            # private but long-stable sounddevice API: the only way to re-scan devices
            sd._terminate()
            sd._initialize()
        except Exception as exc:  # PortAudio can fail to re-initialize if the server vanished
            logger.debug("PortAudio re-initialization failed: %s", exc)
            return False
    return True


def list_devices(refresh_first: bool = True) -> list[AudioDevice]:
    """Every device PortAudio sees, with defaults marked; raises DeviceError without PortAudio."""
    sd = sounddevice()
    if refresh_first:
        refresh()
    try:
        raw: Any = sd.query_devices()
        hostapis = sd.query_hostapis()
        default_in, default_out = _default_indices(sd)
    except Exception as exc:
        raise DeviceError(f"cannot list audio devices: {exc}") from None
    devices = []
    for info in raw:
        index = int(info["index"])
        try:
            hostapi = str(hostapis[info["hostapi"]]["name"])
        except (IndexError, KeyError, TypeError):
            hostapi = "?"
        devices.append(
            AudioDevice(
                index=index,
                name=str(info["name"]),
                hostapi=hostapi,
                max_input_channels=int(info["max_input_channels"]),
                max_output_channels=int(info["max_output_channels"]),
                default_samplerate=float(info["default_samplerate"]),
                default_input=index == default_in,
                default_output=index == default_out,
            )
        )
    return devices


def _default_indices(sd: ModuleType) -> tuple[int, int]:
    try:
        pair = sd.default.device
        return int(pair[0]), int(pair[1])
    except Exception:
        return -1, -1


def resolve_device(
    spec: int | str | None, direction: Direction, devices: list[AudioDevice] | None = None
) -> AudioDevice:
    """Pick a device by index, by name (exact, then unique substring, case-insensitive) or the default.

    Raises DeviceError with a message naming what was asked for and what exists.
    """
    if devices is None:
        devices = list_devices()
    usable = [d for d in devices if d.has(direction)]
    if not usable:
        raise NoAudioDeviceError(f"no audio {direction} device: {NO_DEVICES_HINT}")
    if spec is None or (isinstance(spec, str) and spec.strip().lower() in ("", "default")):
        for device in usable:
            if device.default_input if direction == "input" else device.default_output:
                return device
        return usable[0]  # PortAudio reports no default: the first that can do it
    text = str(spec).strip()
    if isinstance(spec, int) or text.isdigit():
        index = int(text)
        for device in devices:
            if device.index == index:
                if not device.has(direction):
                    raise DeviceError(f"audio device #{index} {device.name!r} has no {direction} channels")
                return device
        raise DeviceError(f"no audio device #{index}; {_choices(usable, direction)}")
    lowered = text.lower()
    exact = [d for d in usable if d.name.lower() == lowered]
    if exact:
        return exact[0]
    partial = [d for d in usable if lowered in d.name.lower()]
    if len(partial) == 1:
        return partial[0]
    if partial:
        names = ", ".join(d.describe() for d in partial)
        raise DeviceError(f"audio {direction} device {text!r} is ambiguous: {names}; give the index")
    raise DeviceError(f"no audio {direction} device matches {text!r}; {_choices(usable, direction)}")


def _choices(usable: list[AudioDevice], direction: Direction) -> str:
    return f"{direction} devices: " + ", ".join(d.describe() for d in usable)


def parse_device_spec(value: str | None) -> int | str | None:
    """Command-line device option: an index, a name, or None for the default."""
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() else value
