"""Paced audio tracks: the one place that times 20 ms frames for aiortc.

``FramePacer`` is the clock; ``PacedAudioTrack`` paces whatever a subclass generates; ``QueuedAudioTrack`` sends
what was queued on it (an agent's speech, a scripted caller's utterances) and
silence in between.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from voicedesk.media.pcm import FRAME_SAMPLES, SAMPLE_RATE, mono_to_frame


class FramePacer:
    """When each frame of a stream is due: the one 20 ms clock of every track we pace.

    Frame at ``pts`` is due at start + pts / 48 kHz on the loop's clock, so a late frame
    does not shift every later one (no drift), and a stall is followed by a catch-up
    rather than a permanent delay. The start is set by the first ``wait``, counting back
    from its ``pts``, so a track can begin pacing mid-stream (a microphone that falls
    back to silence) without a jump in its timestamps.
    """

    def __init__(self) -> None:
        self._start: float | None = None

    async def wait(self, pts: int) -> None:
        """Sleep until the frame at ``pts`` (samples at 48 kHz) is due."""
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time() - pts / SAMPLE_RATE
        delay = self._start + pts / SAMPLE_RATE - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)


class PacedAudioTrack(MediaStreamTrack):
    """Base for generated audio: subclasses fill ``_next_block``; a ``FramePacer`` paces it.

    When ``_next_block`` runs out, ``played_out`` is set and the track ends, unless
    ``silence_after_end``: then it goes on with silence, as a microphone would, because a
    peer that stops getting packets cannot tell that the caller stopped talking.
    """

    kind = "audio"

    def __init__(self, silence_after_end: bool = False) -> None:
        super().__init__()
        self._pts = 0
        self._pacer = FramePacer()
        self.silence_after_end = silence_after_end
        # set once a source with an end (a file, words to say) has sent all of it
        # (``hangup_after_source`` waits for it); never for sources without an end
        self.played_out = asyncio.Event()

    def _next_block(self, count: int) -> np.ndarray | None:
        """The next ``count`` samples, or None when the audio has ended (the track stops)."""
        raise NotImplementedError

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        await self._pacer.wait(self._pts)
        block = self._next_block(FRAME_SAMPLES)
        if block is None:
            self.played_out.set()
            if not self.silence_after_end:
                self.stop()
                raise MediaStreamError
            block = np.zeros(FRAME_SAMPLES, dtype=np.float32)
        frame = mono_to_frame(block, self._pts)
        self._pts += FRAME_SAMPLES
        return frame


class QueuedAudioTrack(PacedAudioTrack):
    """Queued samples (what an agent or a scripted caller says), paced at 20 ms, silence when there is nothing to say.

    ``enqueue`` returns a future that gets the monotonic times of the clip's first and last
    sample going to the encoder (a scripted caller measures from them); ``flush`` drops
    everything queued (their futures are cancelled) and the next frame out is silence
    (barge-in). ``on_started`` / ``on_stopped(interrupted)`` run on the loop when output
    starts / runs dry. The track never ends by itself (aiortc would stop sending).
    """

    def __init__(self) -> None:
        super().__init__()
        self._blocks: collections.deque[tuple[np.ndarray, asyncio.Future[tuple[float, float]] | None]] = (
            collections.deque()
        )
        self._head = 0  # samples of _blocks[0] already sent
        self._block_started_at = 0.0
        self.speaking = False
        self.on_started: Callable[[], None] | None = None
        self.on_stopped: Callable[[bool], None] | None = None
        self.samples_out = 0

    @property
    def queued_samples(self) -> int:
        return sum(b.size for b, _ in self._blocks) - self._head

    def enqueue(self, samples: np.ndarray) -> asyncio.Future[tuple[float, float]] | None:
        """Queue ``samples`` (float32, 48 kHz). The future (None when no loop runs yet, as for
        a source built before its call) is done when the last sample went to the encoder."""
        try:
            future: asyncio.Future[tuple[float, float]] | None = asyncio.get_running_loop().create_future()
        except RuntimeError:
            future = None
        if samples.size:
            self._blocks.append((samples.astype(np.float32, copy=False), future))
        elif future is not None:
            now = time.monotonic()
            future.set_result((now, now))
        return future

    async def play(self, samples: np.ndarray) -> tuple[float, float]:
        """Queue ``samples`` and wait until they have gone out: (first, last) sample times."""
        future = self.enqueue(samples)
        assert future is not None  # a coroutine runs on a loop
        return await future

    def flush(self) -> bool:
        """Drop queued audio; True if the agent was speaking."""
        was_speaking = self.speaking
        self._cancel_queued()
        self._head = 0
        if was_speaking:
            self.speaking = False
            if self.on_stopped is not None:
                self.on_stopped(True)
        return was_speaking

    def _cancel_queued(self) -> None:
        for _, future in self._blocks:
            if future is not None and not future.done():
                future.cancel()
        self._blocks.clear()

    def stop(self) -> None:
        super().stop()
        self._cancel_queued()

    def _next_block(self, count: int) -> np.ndarray:
        out = np.zeros(count, dtype=np.float32)
        filled = 0
        while filled < count and self._blocks:
            block, future = self._blocks[0]
            if self._head == 0:
                self._block_started_at = time.monotonic() + filled / SAMPLE_RATE
            take = min(count - filled, block.size - self._head)
            out[filled : filled + take] = block[self._head : self._head + take]
            filled += take
            self._head += take
            if self._head >= block.size:
                self._blocks.popleft()
                self._head = 0
                if future is not None and not future.done():
                    future.set_result((self._block_started_at, time.monotonic() + filled / SAMPLE_RATE))
        if filled and not self.speaking:
            self.speaking = True
            if self.on_started is not None:
                self.on_started()
        elif not filled and self.speaking:
            self.speaking = False
            self.played_out.set()  # all that was queued has gone (a say: source has said it all)
            if self.on_stopped is not None:
                self.on_stopped(False)
        self.samples_out += filled
        return out
