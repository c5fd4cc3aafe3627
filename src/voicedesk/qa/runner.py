"""Run a scenario: one Call, its steps, and a result that says what was expected and measured.

Audio to say is made before the call starts (TTS, files, tones), so no synthesis stalls the
call; transcripts are made after it ends, for the same reason (pocketsphinx holds the GIL).
Checks that need a transcript are therefore settled after the call; every other check is
settled when its step runs.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from voicedesk.qa.capture import CallCapture, CallRecord
from voicedesk.qa.latency import Turn, speech_runs
from voicedesk.qa.scenario import Bound, Scenario, Step, Utterance
from voicedesk.rtc.call import Call
from voicedesk.rtc.impair import ImpairmentSpec
from voicedesk.rtc.signaling.log import redact_url
from voicedesk.rtc.spec import CallSpec

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
            from voicedesk.media.resample import resample, to_float
            from voicedesk.speech.tts import find_tts
        except ImportError as exc:  # the agent pipeline is a separate part of VoiceDesk
            raise PipelineError(f"saying text needs the speech engines (voicedesk.agent.engines): {exc}") from None
        if self._engine is None:
            self._engine = find_tts()
        pcm = self._engine.synthesize(text)
        if pcm.size == 0:
            raise PipelineError(f"the TTS engine made no audio for {text!r}")
        return to_float(resample(pcm, self._engine.sample_rate, SAMPLE_RATE))


def render(utterance: Utterance, voice: Voice) -> np.ndarray:
    if utterance.text is not None:
        return voice.render(utterance.text)
    if utterance.wav is not None:
        return load_audio_file(utterance.wav)
    return tone(utterance.tone_hz or 440.0, utterance.seconds)


def transcriber(scenario: Scenario, target: str = ""):  # -> Callable[[np.ndarray], str]
    try:
        from voicedesk.speech.stt import (
            SMALL_VOCABULARY,
            SttSettings,
            build_decoder,
            check_pocketsphinx,
            transcribe,
        )
    except ImportError as exc:
        raise PipelineError(f"transcripts need the speech engines (voicedesk.agent.engines): {exc}") from None
    check_pocketsphinx()
    phrases = tuple(SMALL_VOCABULARY) + scenario.phrases()
    if target.startswith(("embedded:", "embedded+http:")):
        # the embedded agents' own replies: what their transcripts should be recognized as
        with contextlib.suppress(ImportError):
            from voicedesk.agent.engines.responder import INTENTS, NOTHING_HEARD_REPLY

            phrases += (*(i.reply for i in INTENTS), NOTHING_HEARD_REPLY)
    settings = SttSettings(mode=scenario.stt_mode, phrases=phrases)
    decoder = build_decoder(settings)

    def run(audio: np.ndarray) -> str:
        return transcribe(audio, SAMPLE_RATE, settings, decoder=decoder) if audio.size else ""

    return run


def normalize(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


# --- running -----------------------------------------------------------------
class ScenarioRun:
    def __init__(
        self,
        scenario: Scenario,
        target: str | None = None,
        ice: IceConfig | None = None,
        headers: dict[str, str] | None = None,
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

    async def run(self) -> ScenarioResult:
        started = time.monotonic()
        try:
            self.prepare()
            await self._run_call()
        except VoiceDeskError as exc:
            self.result.error = str(exc)
        except Exception as exc:  # a bug must cost one scenario, with its reason, not the whole run
            logger.exception("scenario %s failed unexpectedly", self.scenario.name)
            self.result.error = f"unexpected error: {type(exc).__name__}: {exc}"
        finally:
            self.result.duration_s = time.monotonic() - started
        self._settle()
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
            conditions=scenario.conditions,
        )
        self.call = call = Call.from_spec(spec, source=self.source, extensions=[self.capture])
        await call.start()  # a failed start has torn the call down, the capture with it
        self.result.setup_ms = call.setup_ms
        return call

    async def close(self) -> None:
        if self.call is None:
            return
        await self.call.hangup()
        self._finish_measures()

    async def _run_call(self) -> None:
        scenario = self.scenario
        call = await self.open()
        hung_up = False
        try:
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
        sent = self.source.enqueue(clip)
        assert sent is not None  # queued from the running call's loop
        deadline = time.monotonic() + clip.size / SAMPLE_RATE + 30.0
        while not sent.done():
            await asyncio.wait({sent}, timeout=0.1)
            if not sent.done() and (self.call is None or self.call.state.is_final or time.monotonic() > deadline):
                sent.cancel()
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
        """Transcribe the replies (after the call: no GIL stalls during it) and settle deferred checks."""
        t0 = self.capture.t0
        wants_text = transcribe_all or bool(self._deferred) or self.scenario.golden.transcripts
        transcribe = None
        if wants_text and any(t.reply_start is not None for t in self.turns):
            try:
                transcribe = transcriber(self.scenario, self.target)
            except VoiceDeskError as exc:
                if self._deferred:
                    self.result.error = self.result.error or str(exc)
        for turn in self.turns:
            if transcribe is not None and turn.reply_start is not None:
                end = turn.reply_end if turn.reply_end is not None else None
                audio = self.capture.rx.segment(turn.reply_start - 0.05, end + 0.2 if end is not None else None)
                try:
                    turn.transcript = transcribe(audio)
                except Exception as exc:  # a recognizer failure is a failed check, not a crash
                    logger.warning("transcribing turn %d failed: %s", turn.index, exc)
        agent_turns = self.capture.agent_turns
        for i, turn in enumerate(self.turns):
            if i < len(agent_turns):
                turn.agent = agent_turns[i]
        for check, step, turn in self._deferred:
            if turn is None or turn.reply_start is None:
                check.passed, check.measured = False, "no reply to transcribe"
                continue
            text = normalize(turn.transcript or "")
            check.measured = repr(turn.transcript or "")
            ok = all(normalize(c) in text for c in step.contains)
            if step.matches:
                ok = ok and re.search(step.matches, turn.transcript or "", re.IGNORECASE) is not None
            check.passed = ok
        for check in self.result.checks:
            if check.passed is None:
                check.passed = False
        self.result.turns = [t.to_json(t0) for t in self.turns]
        if self.call is not None:
            self.result.summary = self.call.summary().to_json()
            self.result.record = self.capture.record(self.result.turns, None)

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
