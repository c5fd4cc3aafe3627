"""MicrophoneTrack: a real input device as an aiortc audio track.

The device is opened at its own rate (what PortAudio reports as its default),
mono. PortAudio's audio thread only copies each block and hands it to the event
loop with ``loop.call_soon_threadsafe`` (no logging, no waiting in the
callback); the loop resamples to 48 kHz and cuts 20 ms frames, so ``recv`` is
paced by the device's own clock.

Faults never end the call: no device, a device that cannot be opened or an
unsupported rate give a notice ("no audio input device: using silence") and the
track sends silence instead, paced by the loop's clock; a device that stops
delivering mid-call (unplugged, sound server gone) does the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from voicedesk.media import devices
from voicedesk.media.device_stream import STALL_SECONDS, START_GRACE_SECONDS, DeviceStream, close_stream_in_background
from voicedesk.media.devices import NoticeListener
from voicedesk.media.pcm import FRAME_SAMPLES, SAMPLE_RATE, mono_to_frame
from voicedesk.media.resample import StreamResampler
from voicedesk.media.tracks import FramePacer

logger = logging.getLogger(__name__)


class MicrophoneTrack(DeviceStream, MediaStreamTrack):
    """Captures ``device`` (index, name or None for the default) as 48 kHz mono 20 ms frames."""

    kind = "audio"
    notice_direction = "input"
    role = "microphone"
    fallback = "using silence"
    streaming = "capturing"

    def __init__(
        self,
        device: int | str | None = None,
        *,
        blocksize_ms: float = 10.0,
        samplerate: int | None = None,
        latency: float | str = "high",
        max_queue_ms: float = 200.0,
        listener: NoticeListener | None = None,
    ) -> None:
        super().__init__()
        self._init_device(device, blocksize_ms, samplerate, latency, listener)
        self.max_queue = int(SAMPLE_RATE * max_queue_ms / 1000)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._resampler: StreamResampler | None = None
        self._queue = np.zeros(0, dtype=np.float32)
        self._data_ready = asyncio.Event()
        self._first_recv = True
        self._last_block_at = 0.0
        self._pts = 0
        self._silence_pacer = FramePacer()  # started by the first silent frame, continuing the pts
        self.blocks_captured = 0
        self.overruns = 0  # device status flags and queue overflows (we fell behind)
        self.last_capture_at: float | None = None  # time.monotonic() of the newest block (bench, meters)
        with contextlib.suppress(RuntimeError):  # no running loop: open at the first recv
            asyncio.get_running_loop()
            self.open()

    # device ------------------------------------------------------------------
    def open(self) -> None:
        """Open the device now (needs the running loop); on failure fall back to silence."""
        if not self._opened:
            self._loop = asyncio.get_running_loop()
        super().open()

    def _stream_started(self, stream: Any, rate: int) -> None:
        self._resampler = StreamResampler(rate, SAMPLE_RATE)
        self._last_block_at = time.monotonic()

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        # PortAudio's thread: copy, hand over, return. Nothing that can block or log.
        block = indata[:, 0].copy() if indata.shape[1] == 1 else indata.mean(axis=1, dtype=np.float32)
        self._last_block_at = time.monotonic()
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._on_block, block, bool(status))
        except RuntimeError:  # the loop closed under us: stop the stream quietly
            raise devices.sounddevice().CallbackStop from None

    def _on_block(self, block: np.ndarray, had_status: bool) -> None:
        if self._stream is None or self._resampler is None:
            return
        self.blocks_captured += 1
        self.last_capture_at = self._last_block_at
        if had_status:
            self.overruns += 1
        samples = self._resampler.process(block)
        self._queue = np.concatenate((self._queue, samples)) if self._queue.size else samples
        if self._queue.size > self.max_queue:  # nobody is reading fast enough: keep the newest
            self._queue = self._queue[-self.max_queue :]
            self.overruns += 1
        if self._queue.size >= FRAME_SAMPLES:
            self._data_ready.set()

    # track -------------------------------------------------------------------
    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if not self._opened:
            self.open()
        if self._stream is not None:
            if self._first_recv:
                self._first_recv = False
                self._queue = self._queue[:0]  # audio from before the call started is stale
                self._data_ready.clear()
            samples = await self._captured_frame()
            if samples is not None:
                return self._frame(samples)
        return await self._silent_frame()

    async def _captured_frame(self) -> np.ndarray | None:
        while self._queue.size < FRAME_SAMPLES:
            self._data_ready.clear()
            try:
                await asyncio.wait_for(self._data_ready.wait(), STALL_SECONDS)
            except TimeoutError:
                allowed = STALL_SECONDS if self.blocks_captured else START_GRACE_SECONDS
                if time.monotonic() - self._last_block_at >= allowed or not self._stream_active():
                    self._lose_device("stopped delivering audio")
                    return None
            if self.readyState != "live":
                raise MediaStreamError
            if self._stream is None:
                return None
        samples, self._queue = self._queue[:FRAME_SAMPLES], self._queue[FRAME_SAMPLES:]
        return samples

    def _stream_active(self) -> bool:
        try:
            return bool(self._stream is not None and self._stream.active)
        except Exception:
            return False

    async def _silent_frame(self) -> av.AudioFrame:
        await self._silence_pacer.wait(self._pts)
        return self._frame(np.zeros(FRAME_SAMPLES, dtype=np.float32))

    def _frame(self, samples: np.ndarray) -> av.AudioFrame:
        frame = mono_to_frame(samples, self._pts)
        self._pts += FRAME_SAMPLES
        return frame

    def stop(self) -> None:
        super().stop()
        self._data_ready.set()  # wake a waiting recv so it sees the end
        if self._stream is not None:
            stream, self._stream = self._stream, None
            close_stream_in_background(stream, "microphone")
