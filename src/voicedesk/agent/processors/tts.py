"""Text to speech: reply text in (streamed chunks), speech audio out, sentence by sentence.

Synthesis runs on the process's TTS thread (see engines/tts.py); an interruption
cancels the sentence in hand (espeak is told to stop at its next callback) and
drops the text not yet spoken.
"""

from __future__ import annotations

import asyncio
import re

from voicedesk.agent.frames import (
    Frame,
    FrameDirection,
    ResponseEndedFrame,
    ResponseStartedFrame,
    ResponseTextFrame,
    SpeechAudioOutFrame,
)
from voicedesk.agent.pipeline import FrameProcessor
from voicedesk.media.pcm import SAMPLE_RATE
from voicedesk.media.resample import resample, to_float
from voicedesk.speech.tts import TTS_EXECUTOR, TtsEngine

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")


class TTSProcessor(FrameProcessor):
    def __init__(self, engine: TtsEngine, name: str | None = None) -> None:
        super().__init__(name)
        self.engine = engine
        self._text = ""
        self._generation = 0  # bumped on interruption: a synthesis of an older one stops

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, ResponseStartedFrame):
            self._text = ""
        elif isinstance(frame, ResponseTextFrame):
            self._text += frame.text
            *sentences, self._text = _SENTENCE_END.split(self._text)
            await super().process_frame(frame, direction)
            for sentence in sentences:
                await self._speak(sentence)
            return
        elif isinstance(frame, ResponseEndedFrame):
            rest, self._text = self._text, ""
            await self._speak(rest)
        await super().process_frame(frame, direction)

    async def on_interrupted(self) -> None:
        self._generation += 1
        self._text = ""

    async def _speak(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        generation = self._generation
        samples = await asyncio.get_running_loop().run_in_executor(TTS_EXECUTOR, self._synthesize, text, generation)
        if samples.size and generation == self._generation:
            await self.push_frame(SpeechAudioOutFrame(samples=samples, sample_rate=SAMPLE_RATE))

    def _synthesize(self, text: str, generation: int):  # runs on the TTS thread
        pcm = self.engine.synthesize(text, should_stop=lambda: generation != self._generation)
        return to_float(resample(pcm, self.engine.sample_rate, SAMPLE_RATE))
