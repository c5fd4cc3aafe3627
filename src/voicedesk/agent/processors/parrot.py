"""Parrot: records each utterance and plays it back after a delay."""

from __future__ import annotations

import asyncio
import collections

import numpy as np

from voicedesk.agent.frames import (
    AudioInFrame,
    Frame,
    FrameDirection,
    InterruptionFrame,
    ResponseEndedFrame,
    ResponseStartedFrame,
    SpeechAudioOutFrame,
    SpeechStartedFrame,
    SpeechStoppedFrame,
)
from voicedesk.agent.pipeline import FrameProcessor


class ParrotProcessor(FrameProcessor):
    """Plays each utterance back ``delay_ms`` after the caller stopped (``preroll_s`` before the
    detected onset included). If the caller speaks again before the playback starts, the
    pending playback is dropped, as any reply is on barge-in.
    """

    # the VAD's onset already points at the first speech frame: 0.1 s before it keeps a soft
    # attack without replaying silence (0.3 s added 0.2 s to every reply)
    def __init__(self, delay_ms: float = 500.0, preroll_s: float = 0.1, max_s: float = 30.0, name: str | None = None):
        super().__init__(name)
        self.delay_s = max(0.0, delay_ms / 1000.0)
        self.preroll_s = preroll_s
        self.max_s = max_s
        self._preroll: collections.deque[AudioInFrame] = collections.deque(maxlen=50)
        self._recording: list[np.ndarray] | None = None
        self._recorded_s = 0.0
        self._pending: set[asyncio.Task[None]] = set()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, AudioInFrame):
            if self._recording is None:
                self._preroll.append(frame)
            elif self._recorded_s < self.max_s:
                self._recording.append(frame.samples)
                self._recorded_s += frame.samples.size / frame.sample_rate
        elif isinstance(frame, SpeechStartedFrame):
            self._recording = [f.samples for f in self._preroll if f.at >= frame.onset - self.preroll_s]
            self._recorded_s = 0.0
            self._preroll.clear()
        elif isinstance(frame, SpeechStoppedFrame) and self._recording is not None:
            clip, self._recording = np.concatenate(self._recording), None
            task = self.create_task(self._play_later(clip), "play")
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        elif isinstance(frame, InterruptionFrame):
            for task in list(self._pending):
                await self.tasks.cancel(task)

    async def _play_later(self, clip: np.ndarray) -> None:
        await asyncio.sleep(self.delay_s)
        await self.push_frame(ResponseStartedFrame())
        await self.push_frame(SpeechAudioOutFrame(samples=clip))
        await self.push_frame(ResponseEndedFrame())
