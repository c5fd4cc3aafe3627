"""Run a scenario: one Call, its steps, and a result that says what was expected and measured.

Audio to say is made before the call starts (TTS, files, tones), so no synthesis stalls the
call. Each reply is transcribed as soon as it has ended, by the chosen recognizer in a
worker process (qa/transcripts.py), so the call's loop only hands it audio; a Whisper model
is loaded before the call, so a missing or damaged one fails the scenario before it dials.
Checks that need a transcript are settled after the call (the last replies are still being
transcribed when it ends); every other check is settled when its step runs.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voicedesk.config import IceConfig, resolve_ice
from voicedesk.errors import ConfigError, PipelineError, VoiceDeskError
from voicedesk.media.conditions.measure import ROBUSTNESS_METRICS
from voicedesk.media.pcm import SAMPLE_RATE
from voicedesk.media.sources import load_audio_file
from voicedesk.media.tracks import QueuedAudioTrack
from voicedesk.qa import event_checks
from voicedesk.qa.capture import CallCapture, CallRecord
from voicedesk.qa.hearing import Hearing
from voicedesk.qa.latency import Turn, speech_runs
from voicedesk.qa.scenario import EVENT_STEPS, Bound, Scenario, Step, Utterance
from voicedesk.qa.transcripts import ReplyTranscriber, recognizer_phrases
from voicedesk.rtc.call import Call
from voicedesk.rtc.impair import ImpairmentSpec
from voicedesk.rtc.signaling.log import redact_url
from voicedesk.rtc.spec import CallSpec
from voicedesk.rtc.transcription import heard_event
from voicedesk.speech.recognizers import SttChoice
from voicedesk.speech.text import contains as text_contains
from voicedesk.speech.text import wer
from voicedesk.speech.transcript import Transcript

logger = logging.getLogger(__name__)

POLL_S = 0.05
REPLY_HANG_MS = 700.0  # a pause this long ends a reply (espeak's sentence pauses are shorter)
UTTERANCE_HANG_MS = 300.0


class ScriptedSource(QueuedAudioTrack):
    """What the test says: silence, and queued clips played back to back (``enqueue`` /
    ``play`` give each clip's first and last sample times).

    One track for the whole call keeps RTP timestamps continuous (swapping tracks would
    restart them).
    """


@dataclass
class Check:
    step: int
    line: int
    kind: str
    expected: str
    measured: str | None = None
    passed: bool | None = None  # None: not settled yet
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "line": self.line,
            "kind": self.kind,
            "expected": self.expected,
            "measured": self.measured,
            "passed": bool(self.passed),
            "message": self.message,
        }


@dataclass
class ScenarioResult:
    name: str
    where: str
    target: str
    passed: bool = False
    error: str | None = None
    duration_s: float = 0.0
    setup_ms: float | None = None
    first_audio_ms: float | None = None
    checks: list[Check] = field(default_factory=list)
    turns: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    golden: dict[str, Any] | None = None
    record: CallRecord | None = field(default=None, repr=False)
    # repeated runs and simulated callers (qa/repeat.py, qa/caller.py): keys only when set
    run: int | None = None
    seed: int | None = None
    impaired: str | None = None
    conversation: dict[str, Any] | None = None

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "scenario": self.where,
            "target": self.target,
            "passed": self.passed,
            "error": self.error,
            "duration_s": round(self.duration_s, 2),
            "setup_ms": _r(self.setup_ms),
            "first_audio_ms": _r(self.first_audio_ms),
            "checks": [c.to_json() for c in self.checks],
            "turns": self.turns,
            "summary": self.summary,
            "golden": self.golden,
            **{
                key: value
                for key, value in (
                    ("run", self.run),
                    ("seed", self.seed),
                    ("impaired", self.impaired),
                    ("conversation", self.conversation),
                )
                if value is not None
            },
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _fmt(value: float | None, unit: str = "") -> str:
    return "nothing measured" if value is None else f"{value:.1f}{unit}"


# --- preparing audio ---------------------------------------------------------
def tone(hz: float, seconds: float, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.01)  # 10 ms fades: no clicks read as speech edges
    return (amplitude * ramp * np.sin(2 * np.pi * hz * t)).astype(np.float32)


class Voice:
    """Text to 48 kHz audio through the embedded agent's TTS engine (espeak-ng)."""

    def __init__(self) -> None:
        self._engine = None

    def render(self, text: str) -> np.ndarray:
        try:
            from voicedesk.speech.tts import call_samples, find_tts
        except ImportError as exc:  # the agent pipeline is a separate part of VoiceDesk
            raise PipelineError(f"saying text needs the speech engines (voicedesk.agent.engines): {exc}") from None
        if self._engine is None:
            self._engine = find_tts()
        audio = call_samples(self._engine, text)
        if audio.size == 0:
            raise PipelineError(f"the TTS engine made no audio for {text!r}")
        return audio


def render(utterance: Utterance, voice: Voice) -> np.ndarray:
    if utterance.text is not None:
        return voice.render(utterance.text)
    if utterance.wav is not None:
        return load_audio_file(utterance.wav)
    return tone(utterance.tone_hz or 440.0, utterance.seconds)


def transcriber(scenario: Scenario, target: str = ""):  # -> Callable[[np.ndarray], str]
    """pocketsphinx in this process (after a call: the fallback when no worker transcribed)."""
    try:
        from voicedesk.speech.stt import SttSettings, build_decoder, check_pocketsphinx, transcribe
    except ImportError as exc:
        raise PipelineError(f"transcripts need the speech engines: {exc}") from None
    check_pocketsphinx()
    settings = SttSettings(mode=scenario.stt_mode, phrases=recognizer_phrases(scenario.phrases(), target))
    decoder = build_decoder(settings)

    def run(audio: np.ndarray) -> str:
        return transcribe(audio, SAMPLE_RATE, settings, decoder=decoder) if audio.size else ""

    return run


def transcript_check(step: Step, heard: Transcript | None) -> tuple[bool, str]:
    """(passed, measured) of an expect_transcript step, on normalised text (speech/text.py)."""
    if heard is None or heard.unavailable is not None:
        return False, f"transcript unavailable: {heard.unavailable if heard is not None else 'not transcribed'}"
    measured = repr(heard.text)
    ok = all(text_contains(heard.text, c) for c in step.contains)
    if step.matches:
        ok = ok and re.search(step.matches, heard.text, re.IGNORECASE) is not None
    if step.text is not None:
        rate = wer(step.text, heard.text)
        measured += f", word error rate {rate:.2f} against {step.text!r}"
        ok = ok and rate <= (step.wer_max or 0.0) + 1e-9
    return ok, measured


# --- running -----------------------------------------------------------------
class ScenarioRun:
    def __init__(
        self,
        scenario: Scenario,
        target: str | None = None,
        ice: IceConfig | None = None,
        headers: dict[str, str] | None = None,
        *,
        seed: int | None = None,
        hearing: Hearing | None = None,
    ) -> None:
        self.scenario = scenario
        self.target = target or scenario.target
        if not self.target:
            raise ConfigError(f"{scenario.where}: no target: give 'target:' in the scenario or --target")
        self.ice = ice if ice is not None else _scenario_ice(scenario)
        self.headers = headers
        # the result is printed and saved: a secret in the target URL stays out of it
        self.result = ScenarioResult(name=scenario.name, where=scenario.where, target=redact_url(self.target))
        self.turns: list[Turn] = []
        self.source = ScriptedSource()
        self.capture = CallCapture()
        self.call: Call | None = None
        self._clips: dict[int, np.ndarray] = {}
        self._splits: dict[int, tuple[int, int]] = {}  # a clip said in two halves: (first end, second start)
        self._voice = Voice()
        self._deferred: list[tuple[Check, Step, Turn | None]] = []
        self.transcriber: ReplyTranscriber | None = None
        self._published: set[int] = set()  # turns whose transcript is in the call's conversation
        # a simulated caller (qa/caller.py): its seed, and a recognizer shared by repeated runs
        self.seed = seed if seed is not None else (scenario.caller.seed if scenario.caller is not None else None)
        self.result.seed = self.seed if scenario.caller is not None or seed is not None else None
        self.hearing = hearing
        self._own_hearing = False
        # None: as before (golden.transcripts decides); repeated runs say whether replies need text
        self.transcripts_wanted: bool | None = None
        self.caller: Any = None
        self.caller_mouth: Any = None  # the caller's voice, loaded by prepare()

    def prepare(self) -> None:
        """Render every utterance now (before the call), so a bad wav or missing TTS fails early."""
        for i, step in enumerate(self.scenario.steps):
            if step.say is not None:
                self._clips[i] = render(step.say, self._voice)
                conditions = self.scenario.conditions
                if step.say.text is not None and conditions is not None:
                    if conditions.pause_ms is not None or conditions.voice.resynthesizes:
                        from voicedesk.rtc.conditions import render_spoken

                        self._clips[i], split = render_spoken(step.say.text, conditions)
                        if split is not None:
                            self._splits[i] = split
        if self.scenario.caller is not None:
            from voicedesk.qa.caller import CallerMouth

            self.caller_mouth = CallerMouth(self.scenario.caller.voice)
            self.caller_mouth.check()
        if self.scenario.caller is not None and self.scenario.caller.hear != "events" and self.hearing is None:
            # a missing recognizer is one line before the call; its worker starts when first needed
            from voicedesk.qa.hearing import hearing_for, reply_phrases

            self.hearing = hearing_for(
                self.scenario.stt_mode, reply_phrases(self.scenario, self.target or ""), self.scenario.stt_model
            )
            self._own_hearing = True

    async def run(self) -> ScenarioResult:
        started = time.monotonic()
        try:
            # off the loop (on the TTS thread, where espeak-ng's calls belong): repeated runs prepare
            # while other runs' calls are going
            from voicedesk.speech.tts import TTS_EXECUTOR

            await asyncio.get_running_loop().run_in_executor(TTS_EXECUTOR, self.prepare)
            await self._run_call()
            await self._hear_replies()
        except VoiceDeskError as exc:
            self.result.error = str(exc)
        except Exception as exc:  # a bug must cost one scenario, with its reason, not the whole run
            logger.exception("scenario %s failed unexpectedly", self.scenario.name)
            self.result.error = f"unexpected error: {type(exc).__name__}: {exc}"
        finally:
            self.result.duration_s = time.monotonic() - started
            if self._own_hearing and self.hearing is not None:
                await self.hearing.close()
        self._settle()
        await self._conversation_checks()
        self.result.passed = self.result.error is None and all(c.passed for c in self.result.checks)
        return self.result

    async def open(self) -> Call:
        """Place the call (the steps' engine without steps: the pytest plugin drives it)."""
        scenario = self.scenario
        needs_relay = scenario.impair is not None or any(s.kind == "impair" for s in scenario.steps)
        spec = CallSpec(
            self.target,
            ice=self.ice,
            timeout=scenario.timeout,
            headers=self.headers or {},
            impairment=ImpairmentSpec.parse(scenario.impair or "") if needs_relay else None,
            media_timeout=scenario.media_timeout or None,
            agent_events=scenario.agent_events,
            conditions=scenario.conditions,
        )
        await self._start_transcriber()
        try:
            self.call = call = Call.from_spec(spec, source=self.source, extensions=[self.capture])
            await call.start()  # a failed start has torn the call down, the capture with it
        except BaseException:
            await self._close_transcriber()  # its worker process must not outlive a call never placed
            raise
        self.result.setup_ms = call.setup_ms
        return call

    async def close(self) -> None:
        if self.call is None:
            await self._close_transcriber()
            return
        await self.call.hangup()
        self._finish_measures()
        for turn in self.turns:  # the replies still open when the call ended
            self._submit(turn)
        await self._close_transcriber()

    # transcripts (qa/transcripts.py): the recognizer's worker gets each reply once it has ended
    async def _start_transcriber(self) -> None:
        scenario = self.scenario
        checked = any(step.kind == "expect_transcript" for step in scenario.steps)
        # not scenario.steps: driven from Python (the pytest plugin), every reply gets its transcript
        wants_text = not scenario.steps or scenario.golden.transcripts or checked
        if self.transcripts_wanted is not None:  # repeated runs say whether replies need text
            wants_text = self.transcripts_wanted or checked
        # a simulated caller's or a repeat's shared recognizer (qa/hearing.py) transcribes the
        # replies itself (text only, after the call): one worker, not two
        if self.transcriber is not None or not wants_text or self.hearing is not None:
            return
        choice = SttChoice(scenario.stt_mode, scenario.stt_model)
        self.transcriber = ReplyTranscriber(choice, recognizer_phrases(scenario.phrases(), self.target))
        if choice.is_whisper:
            # loaded now: a missing or damaged model is this scenario's error before it dials
            await self.transcriber.start()

    def _submit(self, turn: Turn) -> None:
        if self.transcriber is None or turn.reply_start is None:
            return
        rx, t0 = self.capture.rx, self.capture.t0
        start_t = turn.reply_start - 0.05
        end_t = turn.reply_end + 0.2 if turn.reply_end is not None else None
        first = rx.index_at(start_t)
        audio = rx.segment(start_t, end_t)

        def to_call_ms(ms: float) -> float:
            t = rx.time_of(first + int(ms * SAMPLE_RATE / 1000.0))
            return (t - t0) * 1000.0 if t is not None else ms

        self.transcriber.submit(turn.index, (start_t, end_t), audio, SAMPLE_RATE, to_call_ms)

    async def _close_transcriber(self) -> None:
        if self.transcriber is None:
            return
        try:
            await self.transcriber.settle()
        finally:
            await self.transcriber.close()

    async def _run_call(self) -> None:
        scenario = self.scenario
        call = await self.open()
        hung_up = False
        try:
            if scenario.caller is not None:
                await self._converse()
            for index, step in enumerate(scenario.steps):
                await self._step(index, step)
                hung_up = hung_up or step.kind == "hangup"
                if call.state.is_final and not hung_up and index + 1 < len(scenario.steps):
                    raise VoiceDeskError(f"the call ended during step {index + 1}: {call.reason or 'the peer hung up'}")
        finally:
            await self.close()

    # the same engine, step by step from Python (qa/pytest_plugin.py)
    async def say(self, what: str | Utterance | np.ndarray) -> Turn:
        """Say text (TTS), an Utterance or samples (float32, 48 kHz); returns its turn."""
        if isinstance(what, np.ndarray):
            utterance, clip = Utterance(text="<audio>"), what.astype(np.float32)
        else:
            utterance = Utterance(text=what) if isinstance(what, str) else what
            clip = render(utterance, self._voice)
        start, end = await self._play(clip, utterance.describe())
        turn = self._turn(Step(kind="say", line=0, say=utterance), start, end)
        self.turns.append(turn)
        return turn

    async def wait_reply(self, timeout: float = 15.0) -> Turn:  # noqa: ASYNC109 (no reply is a result, not an error)
        """Wait for the reply to the last thing said; the turn's reply_* stay None when none came."""
        if not self.turns:
            raise ConfigError("wait_reply() before say(): there is nothing to reply to")
        turn = self.turns[-1]
        await self._await_reply(turn, timeout)
        return turn

    async def transcript(self, turn: Turn, timeout: float = 60.0) -> Transcript | None:  # noqa: ASYNC109
        """The reply's transcript while the call goes on (None: no reply, or no recognizer):
        words on the call's clock, or ``unavailable`` with the reason."""
        if self.transcriber is None or turn.reply_start is None:
            return None
        self._submit(turn)
        return await self.transcriber.result(turn.index, timeout)

    def finish(self) -> ScenarioResult:
        """After ``close()``: transcripts of every reply and the result (the record for a report)."""
        self._settle(transcribe_all=True)
        self.result.passed = self.result.error is None and all(c.passed for c in self.result.checks)
        return self.result

    # steps
    async def _step(self, index: int, step: Step) -> None:
        logger.info("step %d: %s", index + 1, step.describe())
        call = self.call
        assert call is not None
        if step.kind == "say":
            start, end = await self._play(self._clips[index], step.describe())
            split = self._splits.get(index)
            add_split = getattr(call.source, "add_split", None)  # a conditioned source (rtc/conditions.py)
            if split is not None and add_split is not None:
                add_split(start, *split, self._clips[index].size)
            self.turns.append(self._turn(step, start, end))
        elif step.kind == "wait_reply":
            turn = self._last_turn(step, index)
            check = Check(index + 1, step.line, "reply", step.describe())
            if turn is not None:
                await self._await_reply(turn, step.timeout)
                v2v = turn.voice_to_voice_ms
                if turn.reply_start is None:
                    check.measured = f"no reply within {step.timeout:g} s"
                elif v2v is not None and v2v < 0:  # an echo, or an agent talking over the caller
                    check.measured = (
                        f"reply began {-v2v:.1f} ms before the utterance ended (voice to voice {v2v:.1f} ms), "
                        f"lasting {_fmt(turn.reply_ms, ' ms')}"
                    )
                else:
                    check.measured = (
                        f"reply after {_fmt(v2v, ' ms')} (voice to voice), lasting {_fmt(turn.reply_ms, ' ms')}"
                    )
                check.passed = turn.reply_start is not None and turn.reply_end is not None
                if turn.reply_start is not None and turn.reply_end is None:
                    check.message = f"the agent was still talking after {step.timeout:g} s"
            else:
                check.passed, check.message = False, "nothing was said before it"
            self.result.checks.append(check)
        elif step.kind == "expect_transcript":
            check = Check(index + 1, step.line, "transcript", step.describe())
            turn = self._last_turn(step, index)
            self._deferred.append((check, step, turn))
            self.result.checks.append(check)
        elif step.kind == "expect":
            await call.sample_stats()
            self._finish_measures()
            for name, bound in step.bounds:
                value = self._metric(name)
                self.result.checks.append(
                    Check(
                        index + 1,
                        step.line,
                        name,
                        f"{name} {bound.describe()}",
                        measured=_fmt(value),
                        passed=bound.check(value),
                        message="" if value is not None else "not measured in this call",
                    )
                )
        elif step.kind == "silence":
            await asyncio.sleep(step.seconds)
        elif step.kind == "barge_in":
            await self._barge_in(index, step)
        elif step.kind == "impair":
            if call.impairment_now() is not None:  # a scenario with an impair step is placed through the relay
                call.update_impairment(step.impair or "")
        elif step.kind == "dtmf":
            await self._press(step)
        elif step.kind == "hangup":
            await call.hangup()
        elif step.kind == "send_text":
            call.send_text(step.text or "")
        elif step.kind in EVENT_STEPS:
            self.result.checks.append(await self._event_check(index, step, call))

    async def _event_check(self, index: int, step: Step, call: Call) -> Check:
        """What the agent reported (qa/event_checks.py), waited for up to the step's timeout."""
        conversation = call.conversation
        check = Check(index + 1, step.line, step.kind, step.describe())
        if step.kind == "expect_event":
            found = lambda: event_checks.event_found(conversation, step.match or {})  # noqa: E731
        elif step.kind == "expect_tool_call":
            found = lambda: event_checks.tool_found(conversation, step.match or {})  # noqa: E731
        else:
            found = lambda: event_checks.words_found(conversation, step.contains, step.matches)  # noqa: E731
        check.passed = await event_checks.wait_for(found, step.timeout, lambda: not call.state.is_final)
        check.measured = event_checks.measured(step.kind, conversation)
        if not check.passed and call.agent_events is None:
            check.message = "this call read no agent events (agent_events: in the scenario names the protocol)"
        return check

    async def _press(self, step: Step) -> None:
        """Send the keys (rfc4733 to a peer without telephone-event fails the scenario in one
        line) and wait until they are out, as a ``say`` step waits for its audio."""
        assert self.call is not None and step.dtmf is not None
        keys = step.dtmf
        sending = self.call.send_dtmf(keys.tones, keys.mode, duration=keys.duration_ms, inter_tone_gap=keys.gap_ms)
        if sending.note:
            logger.info("step DTMF: %s", sending.note)
        deadline = time.monotonic() + sending.seconds + 10.0
        # polled: the keys go out with the packets (events) or the frames (in-band), neither sets an event
        while self.call.keypad.pending and not self.call.state.is_final and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    async def _play(self, clip: np.ndarray, what: str) -> tuple[float, float]:
        """Send a clip; a call that ends meanwhile (the peer hung up) stops the wait, not hangs it."""
        return await self._sent(self._enqueue(clip), clip.size / SAMPLE_RATE, what)

    def _enqueue(self, clip: np.ndarray) -> asyncio.Future[tuple[float, float]]:
        """Queue a clip after what is queued already (played back to back); ``_sent`` waits for it."""
        sent = self.source.enqueue(clip)
        assert sent is not None  # queued from the running call's loop
        return sent

    async def _sent(self, sent: asyncio.Future[tuple[float, float]], seconds: float, what: str) -> tuple[float, float]:
        """Wait for a queued clip of ``seconds`` to have been sent: its (start, end) on the loop's clock."""
        deadline = time.monotonic() + seconds + 30.0
        while not sent.done():
            await asyncio.wait({sent}, timeout=0.1)
            if not sent.done() and (self.call is None or self.call.state.is_final or time.monotonic() > deadline):
                sent.cancel()
        if sent.cancelled():  # by us above, or by the track stopping with the call: not our task's cancellation
            reason = (self.call.reason if self.call is not None else None) or "the audio was not sent"
            raise VoiceDeskError(f"the call ended while sending {what}: {reason}")
        return sent.result()

    def _turn(self, step: Step, start: float, end: float) -> Turn:
        # the end of the utterance as the sent audio shows it (a wav may end in silence)
        runs = speech_runs(self.capture.tx, start - 0.02, end + 0.1, hang_ms=UTTERANCE_HANG_MS)
        if runs:
            start = runs[0].start
            end = runs[-1].end or end
        said = step.say.describe() if step.say is not None else ""
        return Turn(index=len(self.turns) + 1, said=said, utterance_start=start, utterance_end=end)

    def _last_turn(self, step: Step, index: int) -> Turn | None:
        return self.turns[-1] if self.turns else None

    def _find_reply(self, turn: Turn) -> None:
        # audio already counted as an earlier turn's reply (an interrupted reply's tail) is not this one's
        since = turn.utterance_start
        for earlier in self.turns:
            if earlier is not turn and earlier.reply_start is not None:
                since = max(since, earlier.reply_end or earlier.reply_start)
        runs = speech_runs(self.capture.rx, since, hang_ms=REPLY_HANG_MS)
        runs = [r for r in runs if r.start >= since - 0.03]  # a block's worth of slack: runs start on frames
        if runs:
            turn.reply_start = runs[0].start
            turn.reply_end = runs[0].end

    async def _await_reply(self, turn: Turn, seconds: float, until_end: bool = True) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.call.state.is_final:
            self._find_reply(turn)
            if turn.reply_start is not None and (turn.reply_end is not None or not until_end):
                if turn.reply_end is not None:
                    self._submit(turn)  # transcribed while the call goes on
                return
            await asyncio.sleep(POLL_S)
        self._find_reply(turn)

    async def _barge_in(self, index: int, step: Step) -> None:
        turn = self.turns[-1]
        check = Check(index + 1, step.line, "barge_in", step.describe())
        self.result.checks.append(check)
        await self._await_reply(turn, step.timeout, until_end=False)
        if turn.reply_start is None:
            check.passed, check.measured = False, f"the agent did not start talking within {step.timeout:g} s"
            return
        await asyncio.sleep(max(0.0, turn.reply_start + step.after_ms / 1000.0 - time.monotonic()))
        start, end = await self._play(self._clips[index], step.describe())
        turn.barge_in_at = start
        # the interrupted reply ends where the received audio falls silent after the barge-in
        deadline = time.monotonic() + step.timeout
        while time.monotonic() < deadline and not self.call.state.is_final:
            runs = [r for r in speech_runs(self.capture.rx, turn.reply_start, hang_ms=REPLY_HANG_MS)]
            if runs and runs[0].end is not None:
                turn.reply_end = runs[0].end
                break
            await asyncio.sleep(POLL_S)
        check.measured = (
            f"the agent kept talking {_fmt(turn.barge_in_stop_ms, ' ms')} after being talked over"
            if turn.reply_end is not None
            else f"the agent was still talking {step.timeout:g} s after being talked over"
        )
        check.passed = turn.reply_end is not None
        self.turns.append(self._turn(step, start, end))

    # measures
    def _finish_measures(self) -> None:
        capture = self.capture
        if capture.connected_at is not None and self.result.first_audio_ms is None:
            runs = speech_runs(capture.rx, capture.connected_at, hang_ms=REPLY_HANG_MS)
            if runs:
                self.result.first_audio_ms = (runs[0].start - capture.connected_at) * 1000.0

    def _metric(self, name: str) -> float | None:
        last = self.turns[-1] if self.turns else None
        replied = [t for t in self.turns if t.voice_to_voice_ms is not None]
        if name == "setup_ms":
            return self.result.setup_ms
        if name == "first_audio_ms":
            return self.result.first_audio_ms
        if name == "voice_to_voice_ms":
            return replied[-1].voice_to_voice_ms if replied else None
        if name == "max_voice_to_voice_ms":
            return max(t.voice_to_voice_ms for t in replied) if replied else None
        if name == "response_ms":
            return replied[-1].response_ms if replied else None
        if name == "reply_ms":
            return replied[-1].reply_ms if replied else None
        if name in ROBUSTNESS_METRICS:  # the robustness table of a call with conditions
            return (self.call.summary().get("robustness") or {}).get(name) if self.call is not None else None
        if name == "barge_in_stop_ms":
            barged = [t for t in self.turns if t.barge_in_at is not None]
            return barged[-1].barge_in_stop_ms if barged else None
        summary = self.call.summary() if self.call is not None else {}
        del last
        return summary.get(name)

    def _settle(self, transcribe_all: bool = False) -> None:
        """The replies' transcripts (made during the call and by ``close``) into the turns; settle
        the deferred checks."""
        t0 = self.capture.t0
        live = self.transcriber  # replies transcribed during the call (qa/transcripts.py)
        if live is not None:
            for reply in self.turns:
                heard = live.results.get(reply.index)
                if heard is not None:
                    reply.heard = heard
                    reply.transcript = heard.text if heard.unavailable is None else None
            if live.unavailable is not None and self._deferred:
                self.result.error = self.result.error or live.unavailable
        wants_text = transcribe_all or bool(self._deferred) or self.scenario.golden.transcripts
        if self.transcripts_wanted is not None and not transcribe_all:
            wants_text = self.transcripts_wanted or bool(self._deferred)
        # replies no worker transcribed (a shared recognizer that failed): pocketsphinx in this
        # process, now that the call is over; a transcript marked unavailable keeps its reason
        pending = [t for t in self.turns if t.reply_start is not None and t.transcript is None and t.heard is None]
        transcribe = None
        if wants_text and pending and self.scenario.stt_mode != "whisper":
            try:
                transcribe = transcriber(self.scenario, self.target or "")
            except VoiceDeskError as exc:
                if self._deferred:
                    self.result.error = self.result.error or str(exc)
        for reply in pending:
            if transcribe is not None and reply.reply_start is not None:
                end = reply.reply_end
                audio = self.capture.rx.segment(reply.reply_start - 0.05, end + 0.2 if end is not None else None)
                try:
                    reply.transcript = transcribe(audio)
                except Exception as exc:  # a recognizer failure is a failed check, not a crash
                    logger.warning("transcribing turn %d failed: %s", reply.index, exc)
        agent_turns = self.capture.agent_turns
        for i, turn in enumerate(self.turns):
            if i < len(agent_turns):
                turn.agent = agent_turns[i]
        self._publish_heard(t0)
        for check, step, turn in self._deferred:
            if turn is None or turn.reply_start is None:
                check.passed, check.measured = False, "no reply to transcribe"
                continue
            check.passed, check.measured = transcript_check(step, turn.heard)
        for check in self.result.checks:
            if check.passed is None:
                check.passed = False
        self.result.turns = [t.to_json(t0) for t in self.turns]
        if self.call is not None:
            self.result.summary = self.call.summary().to_json()
            self.result.record = self.capture.record(self.result.turns, None)

    def _publish_heard(self, t0: float) -> None:
        """Each reply's transcript into the call's conversation (rtc/transcription.py
        ``heard_event``): placed by the reply's audio, so the report's conversation.json has what
        the recognizer heard in the turn it was heard in, whether or not the agent reports text."""
        call = self.call
        if call is None:
            return
        label = self.transcriber.label if self.transcriber is not None else f"pocketsphinx {self.scenario.stt_mode}"
        for turn in self.turns:
            if turn.index in self._published or turn.reply_start is None:
                continue
            heard = turn.heard
            if heard is None and turn.transcript:
                heard = Transcript(turn.transcript, recognizer=label)
            if heard is None or heard.unavailable is not None or not heard.text.strip():
                continue
            self._published.add(turn.index)
            end = (turn.reply_end - t0) * 1000.0 if turn.reply_end is not None else None
            span = ((turn.reply_start - t0) * 1000.0, end)
            call.publish_conversation_event(heard_event(turn.index, heard, span, call.now_ms()))

    # a simulated caller and judges (qa/caller.py, qa/judge.py)
    async def _converse(self) -> None:
        from voicedesk.qa.caller import SimulatedCaller

        assert self.scenario.caller is not None
        self.caller = SimulatedCaller(self, self.scenario.caller, self.seed or 0, self.hearing)
        try:
            await self.caller.converse()
        finally:
            self.result.conversation = self.caller.conversation.to_json()

    async def _hear_replies(self) -> None:
        """Transcribe the replies through the shared recognizer's worker (repeated runs): an
        in-process decoder would stall the calls of the runs still going."""
        if self.hearing is None or self.transcripts_wanted is False:
            return
        for turn in self.turns:
            if turn.reply_start is not None and turn.transcript is None and turn.heard is None:
                end = turn.reply_end
                audio = self.capture.rx.segment(turn.reply_start - 0.05, end + 0.2 if end is not None else None)
                try:
                    turn.transcript = await self.hearing.transcribe(audio)
                except VoiceDeskError as exc:  # the recognizer died: the _settle fallback tries again
                    logger.warning("transcribing turn %d failed: %s", turn.index, exc)

    async def _conversation_checks(self) -> None:
        """The caller's end (looped?), its success criteria and the scenario's judged criteria."""
        caller = self.scenario.caller
        conversation = self.result.conversation
        line = caller.line if caller is not None else 0
        if caller is not None and conversation is not None:
            check = Check(0, line, "caller", "the conversation ends without the caller looping")
            check.measured = conversation["ended"]
            check.passed = conversation.get("looped") is None
            self.result.checks.append(check)
        from voicedesk.qa.caller import said_in

        judged = []
        if caller is not None:
            for criterion in caller.success:
                if criterion.kind == "judged":
                    judged.append(criterion)
                    continue
                check = Check(0, criterion.line, criterion.kind, criterion.describe())
                if criterion.kind == "goal":
                    check.passed = bool(conversation and conversation["goal_reached"])
                    check.measured = "goal reached" if check.passed else "goal not reached"
                else:
                    said = [self._agent_words(i) for i in range(len(self.turns))]
                    said += [t.get("heard") for t in (conversation or {}).get("turns", [])]
                    check.passed = any(said_in(criterion.text, s or "") for s in said)
                    check.measured = "said" if check.passed else "never said"
                self.result.checks.append(check)
        judge = self.scenario.judge
        criteria = tuple(judged) + (judge.criteria if judge is not None else ())
        if not criteria:
            return
        from voicedesk.qa.caller_spec import environment_endpoint
        from voicedesk.qa.judge import judge as ask_judge
        from voicedesk.qa.judge import transcript_text

        endpoint = judge.llm if judge is not None else caller.llm if caller is not None else None
        endpoint = endpoint or environment_endpoint()
        events = list(self.call.agent_events.events) if self.call is not None and self.call.agent_events else []
        verdicts = await ask_judge(criteria, endpoint, transcript_text(self.result.turns, conversation), events)
        for verdict in verdicts:
            self.result.checks.append(
                Check(
                    0,
                    verdict.criterion.line,
                    "judged",
                    f"judged: {verdict.criterion.text}",
                    measured="judge failed" if verdict.failed_to_judge else ("yes" if verdict.passed else "no"),
                    passed=verdict.passed,
                    message=verdict.reason,
                )
            )

    def _agent_words(self, index: int) -> str | None:
        """What the agent said in a turn: its own report where it sent one, else what was recognized."""
        turn = self.turns[index]
        return (turn.agent or {}).get("response") or turn.transcript

    def finish_record(self) -> CallRecord | None:
        if self.result.record is not None:
            self.result.record.result = self.result.to_json()
        return self.result.record


def _scenario_ice(scenario: Scenario) -> IceConfig:
    if scenario.ice is None:
        return IceConfig()
    if isinstance(scenario.ice, dict):
        return IceConfig.from_json(scenario.ice, origin=f"{scenario.where}: ice")
    beside = Path(scenario.path).parent / str(scenario.ice)
    # a file named in a scenario is found next to the scenario, as its wav files are
    return resolve_ice(str(beside) if not Path(str(scenario.ice)).is_absolute() and beside.is_file() else scenario.ice)


async def run_scenario(
    scenario: Scenario,
    target: str | None = None,
    ice: IceConfig | None = None,
    headers: dict[str, str] | None = None,
) -> ScenarioResult:
    run = ScenarioRun(scenario, target, ice, headers)
    result = await run.run()
    run.finish_record()
    return result


def bound_text(bound: Bound) -> str:
    return bound.describe()
