"""Speech to text: feeds the caller's speech to a recognizer between speech started and
stopped, pushes partial transcripts while it goes and a final one at the end.

The recognizer runs in a worker process (see engines/stt.py); this processor only
queues audio to it, so the audio path never waits for a decode.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from dataclasses import dataclass

import numpy as np

from voicedesk.agent.frames import (
    AudioInFrame,
    FinalTranscriptFrame,
    Frame,
    FrameDirection,
    PartialTranscriptFrame,
    SpeechStartedFrame,
    SpeechStoppedFrame,
    StartFrame,
)
from voicedesk.agent.pipeline import FrameProcessor
from voicedesk.errors import PipelineError
from voicedesk.speech.stt import PocketsphinxRecognizer, Recognizer, SttSettings

logger = logging.getLogger(__name__)


@dataclass
class _Utterance:
    blocks: list[np.ndarray]
    started: float
    audio_s: float = 0.0


class STTProcessor(FrameProcessor):
    """``preroll_s`` of audio before the detected onset is included (VAD detects late); audio is
    fed ``holdback_s`` behind real time so that, when the caller stops, only ``tail_s`` after the
    last speech frame reaches the recognizer. ``recognizer`` replaces pocketsphinx (see the
    ``Recognizer`` protocol in engines/stt.py)."""

    def __init__(
        self,
        settings: SttSettings,
        *,
        chunk_s: float = 0.1,
        partial_every_s: float = 0.5,
        preroll_s: float = 0.3,
        holdback_s: float = 0.4,
        tail_s: float = 0.15,
        recognizer: Recognizer | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        self.settings = settings
        self.chunk_s = chunk_s
        self.partial_every_s = partial_every_s
        self.preroll_s = preroll_s
        self.holdback_s = holdback_s  # must stay below the VAD's stop_ms
        self.tail_s = tail_s
        self.recognizer: Recognizer | None = recognizer
        self._preroll: collections.deque[AudioInFrame] = collections.deque()
        self._utterance: _Utterance | None = None
        self._commands: asyncio.Queue[tuple[str, object]] = asyncio.Queue()
        self._pending: list[tuple[float, np.ndarray]] = []  # (arrival time, samples) not yet fed
        self._since_partial_s = 0.0
        self._rate = 48_000

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, StartFrame):
            if self.recognizer is None:
                self.recognizer = PocketsphinxRecognizer(self.settings)
            self.create_task(self._run(), "recognize")
        elif isinstance(frame, AudioInFrame):
            self._on_audio(frame)
        elif isinstance(frame, SpeechStartedFrame):
            self._on_started(frame)
        elif isinstance(frame, SpeechStoppedFrame):
            self._on_stopped(frame)
        await super().process_frame(frame, direction)

    def _on_audio(self, frame: AudioInFrame) -> None:
        self._rate = frame.sample_rate
        seconds = frame.samples.size / frame.sample_rate
        if self._utterance is None:
            self._preroll.append(frame)
            while len(self._preroll) * seconds > self.preroll_s + 0.2:
                self._preroll.popleft()
            return
        self._pending.append((frame.at, frame.samples))
        # hold back the last holdback_s: if the caller has stopped, that is the VAD's
        # hang-over silence, which the recognizer would turn into a stray word ("you")
        ready = [(t, b) for t, b in self._pending if t <= frame.at - self.holdback_s]
        if sum(b.size for _, b in ready) / self._rate >= self.chunk_s:
            self._pending = self._pending[len(ready) :]
            self._feed([b for _, b in ready])

    def _on_started(self, frame: SpeechStartedFrame) -> None:
        self._pending = [(f.at, f.samples) for f in self._preroll if f.at >= frame.onset - self.preroll_s]
        self._preroll.clear()
        self._utterance = _Utterance(blocks=[], started=frame.at)
        self._commands.put_nowait(("begin", self._rate))
        self._since_partial_s = 0.0

    def _on_stopped(self, frame: SpeechStoppedFrame) -> None:
        if self._utterance is None:
            return
        # the speech ended at frame.offset; keep a short tail, drop the hang-over silence
        self._feed([b for t, b in self._pending if t <= frame.offset + self.tail_s])
        self._pending = []
        self._commands.put_nowait(("finish", self._utterance.audio_s))
        self._utterance = None

    def _feed(self, blocks: list[np.ndarray]) -> None:
        if not blocks or self._utterance is None:
            return
        block = np.concatenate(blocks)
        seconds = block.size / self._rate
        self._utterance.audio_s += seconds
        self._since_partial_s += seconds
        want_partial = self._since_partial_s >= self.partial_every_s
        if want_partial:
            self._since_partial_s = 0.0
        self._commands.put_nowait(("feed", (block, want_partial)))

    async def _run(self) -> None:
        """One task talks to the recognizer, in order; results go out as frames."""
        assert self.recognizer is not None
        try:
            await self.recognizer.start()
        except Exception as exc:
            await self.push_error(f"speech recognizer did not start: {exc}", fatal=True)
            return
        last_partial = ""
        while True:
            command, arg = await self._commands.get()
            try:
                if command == "begin":
                    last_partial = ""
                    await self.recognizer.begin(int(arg))  # type: ignore[arg-type]
                elif command == "feed":
                    block, want_partial = arg  # type: ignore[misc]
                    partial = await self.recognizer.feed(block, want_partial)
                    if partial and partial != last_partial:
                        last_partial = partial
                        await self.push_frame(PartialTranscriptFrame(text=partial))
                elif command == "finish":
                    text = await self.recognizer.finish()
                    await self.push_frame(FinalTranscriptFrame(text=text, audio_ms=float(arg) * 1000.0))  # type: ignore[arg-type]
            except PipelineError as exc:
                await self.push_error(str(exc), fatal=True)
                return

    async def cleanup(self) -> None:
        if self.recognizer is not None:
            await self.recognizer.close()
