"""What the microphone and the speaker share: opening a PortAudio stream that works,
falling back with a message when none does, and letting go of a device that died.

A device is tried at the rate asked for, then its own default, 48 kHz and 44.1 kHz,
mono before stereo; the first stream that opens and starts is kept, and a rate other
than the one asked for is told to the user. No device, or none of those that opens,
is a notice and a fallback (silence sent, or received audio not played), never the
end of the call.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from voicedesk.errors import DeviceError
from voicedesk.media import devices
from voicedesk.media.devices import AudioDevice, DeviceNotices, NoAudioDeviceError, NoticeListener
from voicedesk.media.pcm import SAMPLE_RATE

logger = logging.getLogger(__name__)

STALL_SECONDS = 1.0  # no block from the device for this long while streaming: it is gone
START_GRACE_SECONDS = 3.0  # a device may take a while to deliver its first block (PulseAudio: up to 2 s)


def close_stream_in_background(stream: Any, name: str, wait: float = 2.0) -> None:
    """abort()+close() in a thread, waiting at most ``wait`` s: with a dead sound server
    PortAudio can hang in them, and the call must go on. (Normally they take ~1 ms;
    waiting for them matters, as PortAudio's exit-time clean-up deadlocks with a
    close still running.)"""

    def close() -> None:
        with contextlib.suppress(Exception):
            stream.abort()
        with contextlib.suppress(Exception):
            stream.close()
        devices.stream_closed()

    thread = threading.Thread(target=close, name=f"close {name}", daemon=True)
    thread.start()
    thread.join(wait)


class DeviceStream(DeviceNotices):
    """Mixin (list it first) for a class that streams to or from one device.

    The class sets ``notice_direction``, ``role`` ("microphone"), ``fallback``
    ("using silence") and ``streaming`` ("capturing"), calls ``_init_device`` in its
    ``__init__``, makes its stream in ``_create_stream`` and finishes in
    ``_stream_started``.
    """

    role: str
    fallback: str
    streaming: str

    def _init_device(
        self,
        device: int | str | None,
        blocksize_ms: float,
        samplerate: int | None,
        latency: float | str,
        listener: NoticeListener | None,
    ) -> None:
        self.device_spec = device
        self.device: AudioDevice | None = None
        self.samplerate: int | None = None  # the rate the device runs at, once open
        self.blocksize_ms = blocksize_ms
        self.requested_rate = samplerate  # None: the device's own default rate
        # PortAudio's "low" on ALSA's pulse plugin falls into underrun storms on a busy machine
        self.latency = latency
        self._init_notices(listener)
        self._stream: Any = None
        self._opened = False
        self._fell_back = False

    @property
    def using_fallback(self) -> bool:
        """True once the device could not be used (the fallback is in use)."""
        return self._fell_back

    @property
    def device_word(self) -> str:
        return f"audio {self.notice_direction}"

    def open(self) -> None:
        """Open the device now; on failure fall back with a notice."""
        if self._opened:
            return
        self._opened = True
        try:
            sd = devices.sounddevice()
            self.device = devices.resolve_device(self.device_spec, self.notice_direction)
            self._stream = self._open_stream(sd, self.device)
        except DeviceError as exc:
            if isinstance(exc, NoAudioDeviceError):
                self._notice(f"no {self.device_word} device: {self.fallback}")
            else:
                self._notice(f"{exc}: {self.fallback}")
            self._stream = None
            self._fell_back = True

    def _open_stream(self, sd: Any, device: AudioDevice) -> Any:
        wanted = self.requested_rate or int(device.default_samplerate)
        rates = [wanted, int(device.default_samplerate), SAMPLE_RATE, 44_100]
        most_channels = device.max_input_channels if self.notice_direction == "input" else device.max_output_channels
        errors = []
        for rate in dict.fromkeys(r for r in rates if r > 0):
            for channels in (1, 2):
                if channels > most_channels:
                    continue
                stream = None
                try:
                    stream = self._create_stream(sd, device, rate, channels)
                    devices.stream_opened()
                    stream.start()
                except Exception as exc:  # PortAudioError, ValueError for a bad rate/channel count
                    errors.append(f"{rate} Hz/{channels} ch: {exc}")
                    self._stream_failed()
                    if stream is not None:
                        close_stream_in_background(stream, self.role)
                    continue
                self.samplerate = rate
                self._stream_started(stream, rate)
                if rate != wanted:
                    self._notice(
                        f"{self.device_word} {device.describe()} refused {wanted} Hz; {self.streaming} at {rate} Hz"
                    )
                logger.info("%s %s open at %d Hz, %d ch", self.role, device.describe(), rate, channels)
                return stream
        raise DeviceError(f"cannot open {self.device_word} {device.describe()} ({'; '.join(errors)})")

    def _create_stream(self, sd: Any, device: AudioDevice, rate: int, channels: int) -> Any:
        """A PortAudio stream on ``device``, not started yet, calling ``self._callback``."""
        stream_class = sd.InputStream if self.notice_direction == "input" else sd.OutputStream
        return stream_class(
            device=device.index,
            samplerate=rate,
            channels=channels,
            dtype="float32",
            blocksize=int(rate * self.blocksize_ms / 1000),
            latency=self.latency,
            callback=self._callback,
        )

    def _callback(self, data: Any, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio's thread: hand over or fill one block, and return."""
        raise NotImplementedError

    def _stream_failed(self) -> None:
        """A stream did not open or start: undo what ``_create_stream`` prepared."""

    def _stream_started(self, stream: Any, rate: int) -> None:
        """The stream runs at ``rate``: set up what feeds or drains it."""

    def _lose_device(self, why: str) -> None:
        if self._stream is None:
            return
        stream, self._stream = self._stream, None
        self._fell_back = True
        close_stream_in_background(stream, self.role, wait=0.0)
        name = self.device.describe() if self.device else self.device_word
        self._notice(f"{self.device_word} {name} {why}: {self.fallback}")
