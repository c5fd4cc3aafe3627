"""Replies transcribed while the call goes on: each reply's audio to the recognizer's
worker process as soon as the reply has ended, the answers kept by turn.

The recognizer (constrained, open or whisper: speech/recognizers.py) runs in a worker
process, so the call's loop only hands it audio and awaits. A worker that dies
mid-call costs the transcripts, not the call: every reply not yet transcribed gets a
Transcript whose ``unavailable`` says why, and the call carries on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import numpy as np

from voicedesk.errors import PipelineError, VoiceDeskError
from voicedesk.speech.recognizers import ClipRecognizer, SttChoice
from voicedesk.speech.transcript import Transcript
from voicedesk.tasks import TaskOwner

logger = logging.getLogger(__name__)

Segment = tuple[float, float | None]  # (start, end) on the recording's clock


class ReplyTranscriber:
    """``submit`` a clip per reply (key: the turn), ``settle`` waits for them all."""

    def __init__(self, choice: SttChoice, phrases: tuple[str, ...] = ()) -> None:
        self.choice = choice
        self.phrases = phrases
        self.recognizer: ClipRecognizer | None = None
        self.results: dict[int, Transcript] = {}
        self.submitted: dict[int, Segment] = {}
        self.unavailable: str | None = None  # the recognizer could not start
        self._starting: asyncio.Task[None] | None = None
        self._tasks = TaskOwner("transcripts", logger=logger, failed="%s failed")
        self._start_owner = TaskOwner("transcripts", logger=logger)  # its error is raised to start()'s callers

    @property
    def label(self) -> str:
        settings = getattr(self.recognizer, "settings", None)
        fallback = "whisper" if self.choice.is_whisper else f"pocketsphinx {self.choice.stt}"
        return getattr(settings, "label", None) or fallback

    async def start(self) -> None:
        """Start the worker and load the model; errors (missing or damaged model) raise here."""
        if self._starting is None:
            self._starting = self._start_owner.spawn(self._start(), "start")
        await asyncio.shield(self._starting)

    async def _start(self) -> None:
        self.choice.check()
        recognizer = self.choice.recognizer(self.phrases)
        self.recognizer = recognizer
        await recognizer.start()

    def submit(
        self, key: int, segment: Segment, audio: np.ndarray, rate: int, to_call_ms: Callable[[float], float]
    ) -> None:
        """Transcribe ``audio`` (a reply) as turn ``key``; ``to_call_ms`` maps ms from the clip's
        first sample to the call's clock. A key submitted again (its reply grew) is redone."""
        if self.submitted.get(key) == segment:
            return
        self.submitted[key] = segment
        self.results.pop(key, None)
        self._tasks.spawn(self._transcribe(key, segment, audio, rate, to_call_ms), f"turn-{key}")

    async def _transcribe(
        self, key: int, segment: Segment, audio: np.ndarray, rate: int, to_call_ms: Callable[[float], float]
    ) -> None:
        try:
            await self.start()
            assert self.recognizer is not None
            heard = (await self.recognizer.clip(audio, rate)).retimed(to_call_ms) if audio.size else Transcript("")
        except VoiceDeskError as exc:
            if self.recognizer is None or self.recognizer.load_s is None:
                self.unavailable = self.unavailable or str(exc)
            heard = Transcript.failed(str(exc), self.label)
            logger.warning("transcript of turn %d unavailable: %s", key, exc)
        if self.submitted.get(key) == segment:  # not superseded meanwhile
            self.results[key] = heard

    async def settle(self, timeout: float = 120.0) -> None:  # noqa: ASYNC109 (a bound on a stuck worker)
        """Wait for every submitted transcript (the worker answers in order)."""
        pending = list(self._tasks)
        if pending:
            _, not_done = await asyncio.wait(pending, timeout=timeout)
            for task in not_done:
                task.cancel()
        for key in self.submitted:
            if key not in self.results:
                self.results[key] = Transcript.failed(f"no transcript within {timeout:g} s", self.label)

    async def close(self) -> None:
        await self._tasks.cancel_all()
        await self._start_owner.cancel_all()
        if self.recognizer is not None:
            try:
                await self.recognizer.close()
            except PipelineError:
                pass
