"""Voice activity detection: turns 20 ms audio frames into speech started / stopped frames."""

from __future__ import annotations

import collections

from voicedesk.agent.frames import (
    AudioInFrame,
    Frame,
    FrameDirection,
    InterruptionFrame,
    SpeechStartedFrame,
    SpeechStoppedFrame,
)
from voicedesk.agent.pipeline import FrameProcessor
from voicedesk.speech.vad import VadEngine

FRAME_S = 0.020


class VADProcessor(FrameProcessor):
    """Speech starts when ``start_frames`` of the last ``window`` frames are speech and stops
    after ``stop_ms`` of non-speech. On speech start it pushes an ``InterruptionFrame``
    (when ``interruptions`` is on) so that whatever the agent is saying stops now.
    """

    def __init__(
        self,
        engine: VadEngine,
        *,
        start_frames: int = 3,
        window: int = 5,
        stop_ms: float = 500.0,
        interruptions: bool = True,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        self.engine = engine
        self.start_frames = start_frames
        self.stop_frames = max(1, round(stop_ms / (FRAME_S * 1000)))
        self.interruptions = interruptions
        self._recent: collections.deque[tuple[bool, float]] = collections.deque(maxlen=window)
        self._speaking = False
        self._silent_frames = 0
        self._last_speech_end = 0.0

    @property
    def speaking(self) -> bool:
        return self._speaking

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not isinstance(frame, AudioInFrame):
            return
        speech = self.engine.is_speech(frame.samples)
        # frame.at is when the frame arrived, i.e. when its 20 ms of audio ended
        self._recent.append((speech, frame.at - FRAME_S))
        if not self._speaking:
            if sum(s for s, _ in self._recent) >= self.start_frames:
                onset = next(t for s, t in self._recent if s)
                self._speaking = True
                self._silent_frames = 0
                self._last_speech_end = frame.at
                await self.push_frame(SpeechStartedFrame(onset=onset))
                if self.interruptions:
                    await self.push_frame(InterruptionFrame())
            return
        if speech:
            self._silent_frames = 0
            self._last_speech_end = frame.at
            return
        self._silent_frames += 1
        if self._silent_frames >= self.stop_frames:
            self._speaking = False
            self._recent.clear()
            await self.push_frame(SpeechStoppedFrame(offset=self._last_speech_end))
