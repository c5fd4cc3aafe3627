"""The transport: an input processor reading the caller's aiortc track and an output
processor feeding a paced track that aiortc sends back.
"""

from __future__ import annotations

import logging
import time
from typing import cast

import av
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
from voicedesk.media.pcm import SAMPLE_RATE, frame_to_mono
from voicedesk.media.tracks import QueuedAudioTrack

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
                frame = cast(av.AudioFrame, await self.track.recv())
            except MediaStreamError:
                logger.debug("caller's track ended")
                return
            self.frames_in += 1
            await self.push_frame(AudioInFrame(samples=frame_to_mono(frame), sample_rate=frame.sample_rate))


class TransportOutputProcessor(FrameProcessor):
    """Queues ``SpeechAudioOutFrame`` audio on the speaker track; flushes it on interruption."""

    def __init__(self, speaker: QueuedAudioTrack | None = None, name: str | None = None) -> None:
        super().__init__(name)
        self.speaker = speaker or QueuedAudioTrack()
        self.speaker.on_started = self._on_started
        self.speaker.on_stopped = self._on_stopped
        self.barge_in_ms: list[float] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, SpeechAudioOutFrame):
            samples = frame.samples
            if frame.sample_rate != SAMPLE_RATE:
                from voicedesk.media.resample import resample, to_float

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
