"""The transport: an input processor reading the caller's aiortc track and an output
processor feeding a paced track that aiortc sends back.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from voicedesk.agent.frames import (
    AgentStartedSpeakingFrame,
    AgentStoppedSpeakingFrame,
    AudioInFrame,
    EndFrame,
    Frame,
    FrameDirection,
    InterruptionFrame,
    SpeechAudioOutFrame,
    StartFrame,
)
from voicedesk.agent.pipeline import FrameProcessor
from voicedesk.media.frames import SAMPLE_RATE, frame_to_mono
from voicedesk.media.sources import PacedAudioTrack

logger = logging.getLogger(__name__)


class TransportInputProcessor(FrameProcessor):
    """Reads the caller's track and pushes one ``AudioInFrame`` per received frame."""

    def __init__(self, track: MediaStreamTrack, name: str | None = None) -> None:
        super().__init__(name)
        self.track = track
        self.frames_in = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            self.create_task(self._read(), "read")

    async def _read(self) -> None:
        while True:
            try:
                frame = await self.track.recv()
            except MediaStreamError:
                logger.debug("caller's track ended")
                return
            self.frames_in += 1
            await self.push_frame(AudioInFrame(samples=frame_to_mono(frame), sample_rate=frame.sample_rate))


class SpeakerTrack(PacedAudioTrack):
    """What the agent says: queued samples, paced at 20 ms, silence when there is nothing to say.

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


class TransportOutputProcessor(FrameProcessor):
    """Queues ``SpeechAudioOutFrame`` audio on the speaker track; flushes it on interruption."""

    def __init__(self, speaker: SpeakerTrack | None = None, name: str | None = None) -> None:
        super().__init__(name)
        self.speaker = speaker or SpeakerTrack()
        self.speaker.on_started = self._on_started
        self.speaker.on_stopped = self._on_stopped
        self.barge_in_ms: list[float] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, SpeechAudioOutFrame):
            samples = frame.samples
            if frame.sample_rate != SAMPLE_RATE:
                from voicedesk.agent.engines.audio import resample, to_float

                samples = to_float(resample(samples, frame.sample_rate, SAMPLE_RATE))
            self.speaker.enqueue(samples)
        elif isinstance(frame, InterruptionFrame):
            if self.speaker.flush():
                self.barge_in_ms.append((time.monotonic() - frame.at) * 1000.0)
        elif isinstance(frame, EndFrame):
            self.speaker.flush()
        await super().process_frame(frame, direction)

    # the track calls these from recv() (on the loop, inside aiortc's sender task):
    # frames go out through owned tasks so the sender never waits on the pipeline
    def _on_started(self) -> None:
        if self.pipeline is not None:
            self.create_task(self.push_frame(AgentStartedSpeakingFrame()), "speaking-started")

    def _on_stopped(self, interrupted: bool) -> None:
        if self.pipeline is not None:
            self.create_task(self.push_frame(AgentStoppedSpeakingFrame(interrupted=interrupted)), "speaking-stopped")

    async def cleanup(self) -> None:
        self.speaker.stop()
