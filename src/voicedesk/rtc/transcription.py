"""Replies transcribed while the call goes on, and their words in the call's conversation.

``ReplyTranscriber``: each reply's audio to the recognizer's worker process (constrained,
open or whisper: speech/recognizers.py) as soon as the reply has ended, the answers kept
by turn. The call's loop only hands it audio and awaits. A worker that dies mid-call
costs the transcripts, not the call: every reply not yet transcribed gets a Transcript
whose ``unavailable`` says why, and the call carries on.

``CallTranscription``: the extension that does this for any call (``CallSpec.transcribe``,
``voicedesk call --transcribe``, the window's recognizer choice): each stretch of the
peer's speech is transcribed as it ends, live partials first while it is long, and the
words are published to the call's conversation (``heard_event``: labelled with the
recognizer, placed by the time of the audio they were heard in, word times on the call's
clock), so the conversation view, ``turns`` and a report's conversation.json have them
whether or not the agent reports its own text.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from voicedesk.errors import PipelineError, VoiceDeskError
from voicedesk.media.pcm import SAMPLE_RATE
from voicedesk.media.timed_recorder import TimedRecorder, speech_runs
from voicedesk.rtc.events import AgentEventReceived, EventsNotice, Speaker, TextSource, TranscriptReceived
from voicedesk.rtc.extension import CallExtension
from voicedesk.speech.recognizers import ClipRecognizer, SttChoice
from voicedesk.speech.text import wer
from voicedesk.speech.transcript import Transcript
from voicedesk.tasks import TaskOwner

if TYPE_CHECKING:
    from voicedesk.rtc.call import Call

logger = logging.getLogger(__name__)

Segment = tuple[float, float | None]  # (start, end) on the recording's clock


def heard_event(
    key: int, heard: Transcript, span_ms: tuple[float, float | None], t_ms: float, final: bool = True
) -> TranscriptReceived:
    """What VoiceDesk's recognizer heard in reply ``key`` (its audio ``span_ms`` on the call's
    clock), as a conversation event: the agent's words, labelled with the recognizer."""
    return TranscriptReceived(
        t_ms=round(t_ms, 1),
        protocol="caller",
        type="heard",
        who=Speaker.AGENT,
        text=heard.text,
        final=final,
        source=TextSource.RECOGNIZER,
        channel=heard.recognizer,
        item_id=f"heard-{key}",
        heard_ms=(round(span_ms[0], 1), None if span_ms[1] is None else round(span_ms[1], 1)),
        words=heard.words,
    )


class ReplyTranscriber:
    """``submit`` a clip per reply (key: the turn), ``settle`` waits for them all."""

    def __init__(self, choice: SttChoice, phrases: tuple[str, ...] = ()) -> None:
        self.choice = choice
        self.phrases = phrases
        self.recognizer: ClipRecognizer | None = None
        self.results: dict[int, Transcript] = {}
        self.submitted: dict[int, Segment] = {}
        self.unavailable: str | None = None  # the recognizer could not start
        # told of each transcript kept (key, transcript) and each live partial (not kept)
        self.on_result: Callable[[int, Transcript], None] | None = None
        self.on_partial: Callable[[int, Transcript], None] | None = None
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
            if self.on_result is not None:
                self.on_result(key, heard)

    @property
    def busy(self) -> bool:
        """The worker has clips still to do (a live partial would only queue behind them)."""
        return any(not task.done() for task in self._tasks)

    def submit_partial(self, key: int, audio: np.ndarray, rate: int, to_call_ms: Callable[[float], float]) -> None:
        """A live pass over reply ``key`` so far (it is still going): ``on_partial`` gets it,
        unless the reply's final transcript came first. Nothing is kept."""
        self._tasks.spawn(self._partial(key, audio, rate, to_call_ms), f"partial-{key}")

    async def _partial(self, key: int, audio: np.ndarray, rate: int, to_call_ms: Callable[[float], float]) -> None:
        try:
            await self.start()
            assert self.recognizer is not None
            heard = (await self.recognizer.clip(audio, rate)).retimed(to_call_ms)
        except VoiceDeskError:
            return  # the final pass says why
        if key not in self.results and key not in self.submitted and self.on_partial is not None:
            self.on_partial(key, heard)

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
    """Each stretch of the peer's speech transcribed as it ends, into the call's conversation.

    The received audio is recorded (media/timed_recorder.py); every ``POLL_S`` the
    stretches of speech that have ended (``REPLY_HANG_MS`` of quiet) go to the
    recognizer's worker; a stretch still going gets a live pass every ``PARTIAL_EVERY_S``
    while the worker is idle (the final pass over the whole stretch replaces it: it is the
    more accurate, bench/RESULTS.md). Each transcript is published to the call's
    conversation (``heard_event``) and given to ``on_heard``. Where the agent reports
    what it said (the ``voicedesk`` channel's turn events carry its response text), the
    i-th reported response is compared with the i-th stretch heard (word error rate after
    normalisation). The summary's ``transcripts`` key lists them all.

    ``start()`` loads the recognizer; a builder that wants a bad model to stop the call
    before it dials awaits it first (``Call.start`` does, for ``CallSpec.transcribe``).
    """

    POLL_S = 0.25
    REPLY_HANG_MS = 700.0
    PARTIAL_FIRST_S = 1.5  # a stretch this long without an end gets its first live pass
    PARTIAL_EVERY_S = 1.5  # and another after this much more audio (each re-decodes it all)
    PARTIAL_MAX_S = 15.0

    def __init__(
        self,
        choice: SttChoice,
        on_heard: Callable[[dict[str, Any]], None] | None = None,
        target: str = "",
        phrases: tuple[str, ...] | None = None,
        partials: bool = True,
    ) -> None:
        if phrases is None:
            from voicedesk.speech.stt import SMALL_VOCABULARY

            phrases = tuple(SMALL_VOCABULARY)
        self.transcriber = ReplyTranscriber(choice, phrases)
        self.transcriber.on_result = self._heard
        self.transcriber.on_partial = self._heard_partial
        self.on_heard = on_heard
        self.target = target
        self.partials = partials
        self.rx = TimedRecorder()
        self.t0 = time.monotonic()
        self.runs: list[tuple[float, float | None]] = []
        self.agent_said: list[str] = []
        self._reported: set[int] = set()
        self._partial_at: float | None = None  # seconds of the open stretch at its last live pass
        self._partial_start: dict[int, float] = {}  # the open stretch's start, by the key it will have
        self._noted: set[str] = set()  # reasons already told (transcripts unavailable)
        self._tasks = TaskOwner("transcribe", logger=logger, failed="%s failed")
        self._call: Call | None = None

    async def start(self) -> None:
        """Load the recognizer before the call (a bad model is an error before dialling)."""
        await self.transcriber.start()

    async def prepare(self) -> None:
        await self.start()

    def attach(self, call: Call) -> None:
        self._call = call
        self._sync_clock()
        call.add_sink(self.rx)
        call.add_listener(self._on_event)
        self._tasks.spawn(self._poll(), "poll")

    def _on_event(self, event: object) -> None:
        if isinstance(event, AgentEventReceived) and event.type == "turn" and event.event.get("response"):
            self.agent_said.append(str(event.event["response"]))

    def _sync_clock(self) -> None:
        # times go on the call's clock (word times, heard_ms: the conversation's axis), which
        # starts when the call does, after attach
        if self._call is not None:
            self.t0 = time.monotonic() - self._call.now_ms() / 1000.0

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.POLL_S)
            self._sync_clock()
            self._submit(final=False)
            self._report()

    def _submit(self, final: bool) -> None:
        # only after what was already sent: a run, once sent, is not looked at again
        since = (self.runs[-1][1] or 0.0) if self.runs else None
        for run in speech_runs(self.rx, since, hang_ms=self.REPLY_HANG_MS):
            if run.end is None and not final:
                self._live_pass(run.start)
                break
            end = run.end + 0.2 if run.end is not None else None
            key = len(self.runs)
            self.runs.append((run.start, end))
            self._partial_at = None
            first = self.rx.index_at(run.start - 0.05)
            audio = self.rx.segment(run.start - 0.05, end)
            self.transcriber.submit(key, (run.start, end), audio, SAMPLE_RATE, self._to_call_ms(first))
            if end is None:
                break

    def _live_pass(self, start: float) -> None:
        """A partial of the stretch still going, when it has grown enough and the worker is idle."""
        if not self.partials or self.transcriber.busy:
            return
        first = self.rx.index_at(start - 0.05)
        seconds = (self.rx.total - first) / SAMPLE_RATE
        due = self.PARTIAL_FIRST_S if self._partial_at is None else self._partial_at + self.PARTIAL_EVERY_S
        if seconds < due or seconds > self.PARTIAL_MAX_S:
            return
        self._partial_at = seconds
        self._partial_start[len(self.runs)] = start
        audio = self.rx.segment(start - 0.05)
        self.transcriber.submit_partial(len(self.runs), audio, SAMPLE_RATE, self._to_call_ms(first))

    def _to_call_ms(self, first: int) -> Callable[[float], float]:
        def convert(ms: float) -> float:
            t = self.rx.time_of(first + int(ms * SAMPLE_RATE / 1000.0))
            return (t - self.t0) * 1000.0 if t is not None else ms

        return convert

    def _span_ms(self, key: int) -> tuple[float, float | None]:
        start, end = self.runs[key] if key < len(self.runs) else (self._partial_start.get(key, time.monotonic()), None)
        return (start - self.t0) * 1000.0, (end - 0.2 - self.t0) * 1000.0 if end is not None else None

    def _publish(self, key: int, heard: Transcript, final: bool) -> None:
        call = self._call
        if call is None:
            return
        if heard.unavailable is not None:
            # once per reason (a dead worker fails every later reply the same way): a note the
            # conversation view shows, while the call goes on
            if final and heard.unavailable not in self._noted:
                self._noted.add(heard.unavailable)
                text = f"VoiceDesk's recognizer ({heard.recognizer}): transcripts unavailable: {heard.unavailable}"
                call.publish_conversation_event(
                    EventsNotice(t_ms=round(call.now_ms(), 1), protocol="caller", type="heard", text=text)
                )
            return
        if heard.text.strip():
            call.publish_conversation_event(heard_event(key, heard, self._span_ms(key), call.now_ms(), final))

    def _heard(self, key: int, heard: Transcript) -> None:
        self._publish(key, heard, True)

    def _heard_partial(self, key: int, heard: Transcript) -> None:
        self._publish(key, heard, False)

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
        self._sync_clock()
        if self._call is not None:
            self._call.remove_listener(self._on_event)
        self._submit(final=True)
        try:
            await self.transcriber.settle()
        finally:
            await self.transcriber.close()
        self._report()
