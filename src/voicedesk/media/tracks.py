"""Paced audio tracks: the one place that times 20 ms frames for aiortc.

``PacedAudioTrack`` paces whatever a subclass generates; ``QueuedAudioTrack`` sends
what was queued on it (an agent's speech, a scripted caller's utterances) and
silence in between.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from voicedesk.media.pcm import FRAME_SAMPLES, SAMPLE_RATE, mono_to_frame


class PacedAudioTrack(MediaStreamTrack):
    """Base for generated audio: subclasses fill ``_next_block``; this paces it.

    Frame n is due at start + n * 20 ms on the loop's clock, so a late frame does
    not shift every later one (no drift), and a stall is followed by a catch-up
    rather than a permanent delay.
    """

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._pts = 0
        self._start: float | None = None

    def _next_block(self, count: int) -> np.ndarray:
        raise NotImplementedError

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        due = self._start + self._pts / SAMPLE_RATE
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        block = self._next_block(FRAME_SAMPLES)
        if block is None:
            self.stop()
            raise MediaStreamError
        frame = mono_to_frame(block, self._pts)
        self._pts += FRAME_SAMPLES
        return frame


class QueuedAudioTrack(PacedAudioTrack):
    """Queued samples (what an agent or a scripted caller says), paced at 20 ms, silence when there is nothing to say.

    ``flush`` drops everything queued; the next frame out is silence (barge-in).
    ``on_started`` / ``on_stopped(interrupted)`` run on the loop when output starts / runs dry.
    The track never ends by itself (aiortc would stop sending).
    """

    def __init__(self) -> None:
        super().__init__()
        self._blocks: collections.deque[np.ndarray] = collections.deque()
        self._head = 0  # samples of _blocks[0] already sent
        self.speaking = False
        self.on_started: Callable[[], None] | None = None
        self.on_stopped: Callable[[bool], None] | None = None
        self.samples_out = 0

    @property
    def queued_samples(self) -> int:
        return sum(b.size for b in self._blocks) - self._head

    def enqueue(self, samples: np.ndarray) -> None:
        if samples.size:
            self._blocks.append(samples.astype(np.float32, copy=False))

    def flush(self) -> bool:
        """Drop queued audio; True if the agent was speaking."""
        was_speaking = self.speaking
        self._blocks.clear()
        self._head = 0
        if was_speaking:
            self.speaking = False
            if self.on_stopped is not None:
                self.on_stopped(True)
        return was_speaking

    def _next_block(self, count: int) -> np.ndarray:
        out = np.zeros(count, dtype=np.float32)
        filled = 0
        while filled < count and self._blocks:
            block = self._blocks[0]
            take = min(count - filled, block.size - self._head)
            out[filled : filled + take] = block[self._head : self._head + take]
            filled += take
            self._head += take
            if self._head >= block.size:
                self._blocks.popleft()
                self._head = 0
        if filled and not self.speaking:
            self.speaking = True
            if self.on_started is not None:
                self.on_started()
        elif not filled and self.speaking:
            self.speaking = False
            if self.on_stopped is not None:
                self.on_stopped(False)
        self.samples_out += filled
        return out
