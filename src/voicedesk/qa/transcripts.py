"""Replies transcribed while the call goes on: each reply's audio to the recognizer's
worker process as soon as the reply has ended, the answers kept by turn.

The recognizer (constrained, open or whisper: speech/recognizers.py) runs in a worker
process, so the call's loop only hands it audio and awaits. A worker that dies
mid-call costs the transcripts, not the call: every reply not yet transcribed gets a
Transcript whose ``unavailable`` says why, and the call carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from voicedesk.errors import PipelineError, VoiceDeskError
from voicedesk.media.pcm import SAMPLE_RATE
from voicedesk.qa.latency import TimedRecorder, speech_runs
from voicedesk.rtc.call import Call
from voicedesk.rtc.events import AgentEventReceived
from voicedesk.rtc.extension import CallExtension
from voicedesk.speech.recognizers import ClipRecognizer, SttChoice
from voicedesk.speech.text import wer
from voicedesk.speech.transcript import Transcript
from voicedesk.tasks import TaskOwner

logger = logging.getLogger(__name__)

Segment = tuple[float, float | None]  # (start, end) on the recording's clock


def recognizer_phrases(extra: tuple[str, ...] = (), target: str = "") -> tuple[str, ...]:
    """The constrained recognizer's phrases: a small vocabulary, ``extra`` (a scenario's
    words) and, for the embedded agents, their own replies."""
    from voicedesk.speech.stt import SMALL_VOCABULARY

    phrases = tuple(SMALL_VOCABULARY) + tuple(extra)
    if target.startswith(("embedded:", "embedded+http:")):
        # the embedded agents' own replies: what their transcripts should be recognized as
        with contextlib.suppress(ImportError):
            from voicedesk.agent.engines.responder import INTENTS, NOTHING_HEARD_REPLY

            phrases += (*(i.reply for i in INTENTS), NOTHING_HEARD_REPLY)
    return phrases


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

    async def result(self, key: int, timeout: float = 60.0) -> Transcript:  # noqa: ASYNC109
        """Turn ``key``'s transcript once the worker has made it (submitted already)."""
        pending = [t for t in self._tasks if t.get_name().endswith(f"/turn-{key}")]
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        return self.results.get(key) or Transcript.failed(f"no transcript within {timeout:g} s", self.label)

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


class CallTranscription(CallExtension):
    """``voicedesk call --transcribe``: each stretch of the peer's speech transcribed as it ends.

    The received audio is recorded (qa/latency.py TimedRecorder); every ``POLL_S`` the
    stretches of speech that have ended (``REPLY_HANG_MS`` of quiet) go to the
    recognizer's worker; ``on_heard`` gets each transcript as it comes back. Where the
    agent reports what it said (the ``voicedesk`` channel's turn events carry its response
    text), the i-th reported response is compared with the i-th stretch heard (word error
    rate after normalisation). The summary's ``transcripts`` key lists them all.
    """

    POLL_S = 0.25
    REPLY_HANG_MS = 700.0

    def __init__(
        self, choice: SttChoice, on_heard: Callable[[dict[str, Any]], None] | None = None, target: str = ""
    ) -> None:
        self.transcriber = ReplyTranscriber(choice, recognizer_phrases((), target))
        self.on_heard = on_heard
        self.rx = TimedRecorder()
        self.t0 = time.monotonic()
        self.runs: list[tuple[float, float | None]] = []
        self.agent_said: list[str] = []
        self._reported: set[int] = set()
        self._tasks = TaskOwner("transcribe", logger=logger, failed="%s failed")
        self._call: Call | None = None

    async def start(self) -> None:
        """Load the recognizer before the call (a bad model is an error before dialling)."""
        await self.transcriber.start()

    async def prepare(self) -> None:
        await self.start()

    def view(self) -> dict[str, Any]:
        """What was heard so far (the texts), for a builder in another process."""
        return {"transcripts": [entry["text"] for entry in self.entries() if entry.get("text")]}

    def attach(self, call: Call) -> None:
        self._call = call
        self.t0 = time.monotonic()
        call.add_sink(self.rx)
        call.add_listener(self._on_event)
        self._tasks.spawn(self._poll(), "poll")

    def _on_event(self, event: object) -> None:
        if isinstance(event, AgentEventReceived) and event.type == "turn" and event.event.get("response"):
            self.agent_said.append(str(event.event["response"]))

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.POLL_S)
            self._submit(final=False)
            self._report()

    def _submit(self, final: bool) -> None:
        # only after what was already sent: a run, once sent, is not looked at again
        since = (self.runs[-1][1] or 0.0) if self.runs else None
        for run in speech_runs(self.rx, since, hang_ms=self.REPLY_HANG_MS):
            if run.end is None and not final:
                break
            end = run.end + 0.2 if run.end is not None else None
            key = len(self.runs)
            self.runs.append((run.start, end))
            first = self.rx.index_at(run.start - 0.05)
            audio = self.rx.segment(run.start - 0.05, end)
            self.transcriber.submit(key, (run.start, end), audio, SAMPLE_RATE, self._to_call_ms(first))
            if end is None:
                break

    def _to_call_ms(self, first: int) -> Callable[[float], float]:
        def convert(ms: float) -> float:
            t = self.rx.time_of(first + int(ms * SAMPLE_RATE / 1000.0))
            return (t - self.t0) * 1000.0 if t is not None else ms

        return convert

    def entries(self) -> list[dict[str, Any]]:
        out = []
        for i, (start, end) in enumerate(self.runs):
            heard = self.transcriber.results.get(i)
            if heard is None:
                continue
            said = self.agent_said[i] if i < len(self.agent_said) else None
            out.append(
                {
                    "start_ms": round((start - self.t0) * 1000.0, 1),
                    "end_ms": round((end - 0.2 - self.t0) * 1000.0, 1) if end is not None else None,
                    **heard.to_json(),
                    "first_word_ms": round(heard.first_word_ms, 1) if heard.first_word_ms is not None else None,
                    "agent_said": said,
                    "agent_text_wer": round(wer(said, heard.text), 3) if said and heard.unavailable is None else None,
                }
            )
        return out

    def _report(self) -> None:
        if self.on_heard is None:
            return
        for i, entry in enumerate(self.entries()):
            if i not in self._reported:
                self._reported.add(i)
                self.on_heard(entry)

    def summary(self) -> dict[str, Any]:
        return {"transcripts": self.entries(), "transcripts_recognizer": self.transcriber.label}

    async def detach(self) -> None:
        await self._tasks.cancel_all()
        if self._call is not None:
            self._call.remove_listener(self._on_event)
        self._submit(final=True)
        try:
            await self.transcriber.settle()
        finally:
            await self.transcriber.close()
        self._report()


def live_transcription(stt: str = "whisper") -> CallTranscription:
    """A ``CallTranscription`` as an ``ExtensionRecipe`` names it (built in the window's engine
    process: ``voicedesk.qa.transcripts:live_transcription``)."""
    return CallTranscription(SttChoice(stt))
