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

from voicedesk.media.device_stream import STALL_SECONDS, START_GRACE_SECONDS, DeviceStream, close_stream_in_background
from voicedesk.media.devices import AudioDevice, NoticeListener
from voicedesk.media.pcm import SAMPLE_RATE
from voicedesk.media.playout import PlayoutBuffer, PlayoutStats
from voicedesk.media.resample import StreamResampler
from voicedesk.media.sinks import AudioSink

logger = logging.getLogger(__name__)


class SpeakerSink(DeviceStream, AudioSink):
    notice_direction = "output"
    role = "speaker"
    fallback = "received audio is not played (null sink)"
    streaming = "playing"

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
        self._init_device(device, blocksize_ms, samplerate, latency, listener)
        self.target_ms = target_ms
        self.max_ms = max_ms
        self.playout: PlayoutBuffer | None = None
        self._resampler: StreamResampler | None = None
        self._opened_at = 0.0
        self._last_callback_at = 0.0
        self.device_xruns = 0
        self.output_latency_s: float | None = None  # what PortAudio says the device adds after the buffer
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop()
            self.open()

    # device --------------------------------------------------------------------
    def _create_stream(self, sd: Any, device: AudioDevice, rate: int, channels: int) -> Any:
        stream = super()._create_stream(sd, device, rate, channels)
        self.playout = PlayoutBuffer(rate, self.target_ms, self.max_ms)  # before start(): the callback reads it
        return stream

    def _stream_failed(self) -> None:
        self.playout = None

    def _stream_started(self, stream: Any, rate: int) -> None:
        self._resampler = StreamResampler(SAMPLE_RATE, rate)
        self._opened_at = self._last_callback_at = time.monotonic()
        with contextlib.suppress(Exception):
            self.output_latency_s = float(stream.latency)

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


async def play_clip(samples: np.ndarray, device: int | str | None = None) -> None:
    """Play ``samples`` (mono, 48 kHz) once on ``device`` and return once they have been played;
    a device that cannot play is ``DeviceError`` with the notice's words."""
    from voicedesk.errors import DeviceError

    seconds = samples.size / SAMPLE_RATE
    # the whole clip goes into the playout buffer at once: room for all of it, and a short start
    sink = SpeakerSink(device, target_ms=20.0, max_ms=seconds * 1000.0 + 500.0, listener=lambda _notice: None)
    try:
        sink.open()
        if sink.using_fallback:  # the notice, without the call's fallback ("received audio is not played")
            said = sink.notices[-1].message.removesuffix(f": {sink.fallback}") if sink.notices else "no output device"
            raise DeviceError(f"cannot play it: {said}")
        sink.write(samples)
        await asyncio.sleep(seconds + (sink.output_latency_s or 0.0) + 0.15)
    finally:
        sink.close()
