"""SpeakerSink: received audio to a real output device, through a playout buffer.

``write`` (on the event loop) resamples 48 kHz blocks to the device's own rate
and pushes them into a ``PlayoutBuffer``; PortAudio's audio thread pulls exactly
what the device asks for. The callback reads the buffer under a short lock and
never logs, allocates little and never waits on the loop.

Faults never end the call: no output device, or one that cannot be opened, gives
a notice and the sink discards audio (a null sink); a device that stops asking
for audio mid-call (unplugged, sound server gone) does the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import numpy as np

from voicedesk.errors import DeviceError
from voicedesk.media import devices
from voicedesk.media.devices import AudioDevice, DeviceNotices, NoAudioDeviceError, NoticeListener
from voicedesk.media.frames import SAMPLE_RATE
from voicedesk.media.microphone import STALL_SECONDS, START_GRACE_SECONDS, close_stream_in_background
from voicedesk.media.playout import PlayoutBuffer, PlayoutStats
from voicedesk.media.resample import StreamResampler
from voicedesk.media.sinks import AudioSink

logger = logging.getLogger(__name__)


class SpeakerSink(DeviceNotices, AudioSink):
    notice_direction = "output"

    def __init__(
        self,
        device: int | str | None = None,
        *,
        target_ms: float = 60.0,
        max_ms: float = 300.0,
        blocksize_ms: float = 10.0,
        samplerate: int | None = None,
        latency: float | str = "high",
        listener: NoticeListener | None = None,
    ) -> None:
        super().__init__()
        self.device_spec = device
        self.device: AudioDevice | None = None
        self.samplerate: int | None = None
        self.target_ms = target_ms
        self.max_ms = max_ms
        self.blocksize_ms = blocksize_ms
        self.requested_rate = samplerate  # None: the device's own default rate
        # PortAudio's "low" on ALSA's pulse plugin falls into underrun storms on a busy machine
        self.latency = latency
        self.playout: PlayoutBuffer | None = None
        self._init_notices(listener)
        self._stream: Any = None
        self._resampler: StreamResampler | None = None
        self._opened = False
        self._fell_back = False
        self._opened_at = 0.0
        self._last_callback_at = 0.0
        self.device_xruns = 0
        self.output_latency_s: float | None = None  # what PortAudio says the device adds after the buffer
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop()
            self.open()

    @property
    def using_fallback(self) -> bool:
        """True once the device could not be used (received audio is discarded)."""
        return self._fell_back

    # device --------------------------------------------------------------------
    def open(self) -> None:
        if self._opened:
            return
        self._opened = True
        try:
            sd = devices.sounddevice()
            self.device = devices.resolve_device(self.device_spec, "output")
            self._stream = self._open_stream(sd, self.device)
        except DeviceError as exc:
            text = str(exc)
            if isinstance(exc, NoAudioDeviceError):
                self._notice("no audio output device: received audio is not played (null sink)")
            else:
                self._notice(f"{text}: received audio is not played (null sink)")
            self._stream = None
            self._fell_back = True

    def _open_stream(self, sd: Any, device: AudioDevice) -> Any:
        wanted = self.requested_rate or int(device.default_samplerate)
        rates = [wanted, int(device.default_samplerate), SAMPLE_RATE, 44_100]
        errors = []
        for rate in dict.fromkeys(r for r in rates if r > 0):
            for channels in (1, 2):
                if channels > device.max_output_channels:
                    continue
                playout = PlayoutBuffer(rate, self.target_ms, self.max_ms)
                stream = None
                try:
                    stream = sd.OutputStream(
                        device=device.index,
                        samplerate=rate,
                        channels=channels,
                        dtype="float32",
                        blocksize=int(rate * self.blocksize_ms / 1000),
                        latency=self.latency,
                        callback=self._callback,
                    )
                    devices.stream_opened()
                    self.playout = playout  # before start(): the callback reads it at once
                    stream.start()
                except Exception as exc:
                    errors.append(f"{rate} Hz/{channels} ch: {exc}")
                    self.playout = None
                    if stream is not None:
                        close_stream_in_background(stream, "speaker")
                    continue
                self.samplerate = rate
                self._resampler = StreamResampler(SAMPLE_RATE, rate)
                self._opened_at = self._last_callback_at = time.monotonic()
                with contextlib.suppress(Exception):
                    self.output_latency_s = float(stream.latency)
                if rate != wanted:
                    self._notice(f"audio output {device.describe()} refused {wanted} Hz; playing at {rate} Hz")
                logger.info("speaker %s open at %d Hz, %d ch", device.describe(), rate, channels)
                return stream
        raise DeviceError(f"cannot open audio output {device.describe()} ({'; '.join(errors)})")

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        # PortAudio's thread: fill from the playout buffer and return
        self._last_callback_at = time.monotonic()
        if status:
            self.device_xruns += 1  # the device ran dry before we filled it (late callback)
        playout = self.playout
        if playout is None:
            outdata.fill(0)
            return
        playout.pull_into(outdata[:, 0])
        if outdata.shape[1] > 1:
            outdata[:, 1:] = outdata[:, :1]

    def _lose_device(self, why: str) -> None:
        if self._stream is None:
            return
        stream, self._stream = self._stream, None
        self._fell_back = True
        close_stream_in_background(stream, "speaker", wait=0.0)
        name = self.device.describe() if self.device else "audio output"
        self._notice(f"audio output {name} {why}: received audio is not played (null sink)")

    # sink -----------------------------------------------------------------------
    def write(self, samples: np.ndarray) -> None:
        if not self._opened:
            self.open()
        if self._stream is None or self._resampler is None or self.playout is None:
            return
        now = time.monotonic()
        allowed = START_GRACE_SECONDS if now - self._opened_at < START_GRACE_SECONDS else STALL_SECONDS
        if now - self._last_callback_at > allowed:
            self._lose_device("stopped playing")
            return
        self.playout.push(self._resampler.process(samples))

    def stats(self) -> PlayoutStats | None:
        return self.playout.stats() if self.playout is not None else None

    def close(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            close_stream_in_background(stream, "speaker")
