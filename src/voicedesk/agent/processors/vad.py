"""Voice activity detection: turns 20 ms audio frames into speech started / stopped frames."""

from __future__ import annotations

import asyncio
import collections
import time

from voicedesk.agent.frames import (
    AudioInFrame,
    Frame,
    FrameDirection,
    InterruptionFrame,
    SpeechStartedFrame,
    SpeechStoppedFrame,
    StartFrame,
)
from voicedesk.agent.pipeline import FrameProcessor
from voicedesk.speech.vad import VadEngine

FRAME_S = 0.020
GAP_CHECK_S = 0.1  # how often a speaking caller's audio is checked for a gap


class VADProcessor(FrameProcessor):
    """Speech starts when ``start_frames`` of the last ``window`` frames are speech and stops
    after ``stop_ms`` of non-speech. On speech start it pushes an ``InterruptionFrame``
    (when ``interruptions`` is on) so that whatever the agent is saying stops now.

    No audio at all counts as non-speech too: a caller whose packets stop (a file that
    ended, a muted client that sends nothing, a network cut) would otherwise hold its
    turn open for ever, since the stop is counted in frames that never come.
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
        self._last_audio_at = 0.0  # time.monotonic() of the latest audio frame

    @property
    def speaking(self) -> bool:
        return self._speaking

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            self.create_task(self._watch_for_gaps(), "gaps")
        if not isinstance(frame, AudioInFrame):
            return
        self._last_audio_at = time.monotonic()
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
            await self._speech_stopped()

    async def _speech_stopped(self) -> None:
        self._speaking = False  # first, before the push yields: the gap watch must not stop it twice
        self._recent.clear()
        await self.push_frame(SpeechStoppedFrame(offset=self._last_speech_end))

    async def _watch_for_gaps(self) -> None:
        """End a turn whose audio stopped coming, as ``stop_ms`` of silence would have."""
        while True:
            await asyncio.sleep(GAP_CHECK_S)
            if self._speaking and time.monotonic() - self._last_audio_at >= self.stop_frames * FRAME_S:
                await self._speech_stopped()
