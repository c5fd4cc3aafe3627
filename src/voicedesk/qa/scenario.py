"""Scenario files: YAML read and checked before any call, errors with file:line and what was expected.

A scenario is one YAML mapping (a file may hold several, separated by ``---``)::

    name: greeting
    target: embedded:voice
    steps:
      - say: hello can you hear me
      - wait_reply: {timeout: 15}
      - expect_transcript: {contains: hear you}
      - expect: {voice_to_voice_ms: {max: 4000}, loss_pct: {max: 1}}
      - hangup

docs/scenarios.md documents every key. Validation walks the YAML node tree (not the
loaded values) so every message can point at the line that is wrong.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from voicedesk.errors import ConfigError
from voicedesk.limits import problem
from voicedesk.media.conditions.measure import ROBUSTNESS_METRICS
from voicedesk.media.conditions.spec import Conditions
from voicedesk.media.dtmf import validate_digits
from voicedesk.qa.caller_spec import (
    CallerSpec,
    ImpairRuns,
    JudgeSpec,
    parse_caller,
    parse_impair_runs,
    parse_judge,
)
from voicedesk.rtc.call_dtmf import check_mode
from voicedesk.rtc.events import AGENT_EVENTS_CHOICES
from voicedesk.rtc.impair import ImpairmentSpec
from voicedesk.rtc.liveness import MEDIA_TIMEOUT
from voicedesk.speech.recognizers import STT_CHOICES


class ScenarioError(ConfigError):
    """A scenario file that cannot run; the message starts with ``file:line:``."""


# what an ``expect`` step can check, and where the number comes from
METRICS: dict[str, str] = {
    "setup_ms": "call set-up time (offer to connected)",
    "first_audio_ms": "time from connected to the first agent speech received",
    "voice_to_voice_ms": "the last turn: end of what was said to the onset of the agent's reply (client side)",
    "max_voice_to_voice_ms": "the largest voice-to-voice latency of the turns so far",
    "response_ms": "the last turn: start of what was said to the onset of the reply (echo agents)",
    "reply_ms": "the last reply's duration",
    "barge_in_stop_ms": "the last barge-in: how long the agent kept talking after it was talked over",
    "loss_pct": "received packet loss so far (inbound-rtp)",
    "jitter_ms": "received jitter (inbound-rtp)",
    "rtt_ms": "round-trip time (remote-inbound-rtp)",
    "mos": "E-model MOS estimate",
    "rx_gap_ms": "received audio missing (frame timestamp gaps)",
    **ROBUSTNESS_METRICS,  # under the scenario's conditions: (media/conditions/measure.py)
}
# checks of what the agent reported on its events channel (rtc/events/; qa/event_checks.py)
EVENT_STEPS = ("expect_event", "expect_tool_call", "expect_agent_transcript")
NEEDS_CALL = ("say", "wait_reply", "barge_in", "impair", "dtmf", "send_text")
STEP_KINDS = (
    "say",
    "wait_reply",
    "expect_transcript",
    "expect",
    "silence",
    "barge_in",
    "impair",
    "dtmf",
    "hangup",
    "send_text",
    *EVENT_STEPS,
)


@dataclass(frozen=True)
class Bound:
    min: float | None = None
    max: float | None = None

    def check(self, value: float | None) -> bool:
        if value is None:
            return False
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def describe(self) -> str:
        parts = []
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        return " and ".join(parts)


@dataclass(frozen=True)
class Utterance:
    """What to say: text through TTS, a file, or a tone (for tone/echo agents)."""

    text: str | None = None
    wav: str | None = None
    tone_hz: float | None = None
    seconds: float = 1.0

    def describe(self) -> str:
        if self.text is not None:
            return repr(self.text)
        if self.wav is not None:
            return f"wav {self.wav}"
        return f"tone {self.tone_hz:g} Hz for {self.seconds:g} s"


@dataclass(frozen=True)
class Dtmf:
    """Keys to press: ``mode`` inband, rfc4733 or auto (rtc/call_dtmf.py)."""

    tones: str
    mode: str = "auto"
    duration_ms: float = 100.0
    gap_ms: float = 70.0


@dataclass(frozen=True)
class Step:
    kind: str
    line: int
    say: Utterance | None = None
    timeout: float = 15.0
    contains: tuple[str, ...] = ()
    matches: str | None = None
    wer_max: float | None = None  # expect_transcript: word error rate against ``text`` at most this
    bounds: tuple[tuple[str, Bound], ...] = ()
    seconds: float = 0.0
    after_ms: float = 500.0
    impair: str | None = None
    dtmf: Dtmf | None = None
    text: str | None = None  # send_text: the words; expect_transcript: the sentence wer_max compares with
    match: dict[str, Any] | None = field(default=None, hash=False)  # expect_event, expect_tool_call

    def describe(self) -> str:
        if self.kind == "dtmf" and self.dtmf is not None:
            return f"DTMF {self.dtmf.tones!r} ({self.dtmf.mode})"
        if self.kind == "say" and self.say is not None:
            return f"say {self.say.describe()}"
        if self.kind == "barge_in" and self.say is not None:
            return f"barge in after {self.after_ms:g} ms with {self.say.describe()}"
        if self.kind == "expect_transcript":
            what = [f"contains {c!r}" for c in self.contains] + ([f"matches /{self.matches}/"] if self.matches else [])
            if self.text is not None:
                what.append(f"is {self.text!r} with a word error rate <= {self.wer_max or 0:g}")
            return "reply transcript " + " and ".join(what)
        if self.kind == "expect":
            return ", ".join(f"{name} {bound.describe()}" for name, bound in self.bounds)
        if self.kind == "silence":
            return f"silence {self.seconds:g} s"
        if self.kind == "wait_reply":
            return f"wait for the reply (up to {self.timeout:g} s)"
        if self.kind == "impair":
            return f"impair {self.impair}"
        if self.kind == "send_text":
            return f"send text {self.text!r}"
        if self.kind == "expect_agent_transcript":
            what = [f"contains {c!r}" for c in self.contains] + ([f"matches /{self.matches}/"] if self.matches else [])
            return "the agent's words " + " and ".join(what)
        if self.kind in ("expect_event", "expect_tool_call") and self.match is not None:
            shown = ", ".join(f"{k}={v!r}" for k, v in self.match.items())
            return f"{'an event' if self.kind == 'expect_event' else 'a tool call'} with {shown}"
        return self.kind


@dataclass(frozen=True)
class GoldenPolicy:
    tolerance_ms: float = 500.0
    transcripts: bool = True  # a changed transcript fails the comparison


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    line: int
    target: str | None
    steps: tuple[Step, ...]
    ice: Any = None  # RTCConfiguration JSON object, a file path or a preset name
    timeout: float = 15.0
    impair: str | None = None
    media_timeout: float = MEDIA_TIMEOUT  # seconds without the agent's audio packets before the call fails; 0: off
    stt_mode: str = "constrained"  # constrained, open or whisper (speech/recognizers.py)
    stt_model: str | None = None  # whisper: a model directory or name
    vocabulary: tuple[str, ...] = ()
    golden: GoldenPolicy = field(default_factory=GoldenPolicy)
    agent_events: str | None = None  # rtc/events/: auto (None), voicedesk, rtvi, openai, off
    conditions: Conditions | None = None  # noise, echo, backchannels, pauses, voice (the conditions: key)
    voice_sweep: tuple[Conditions, ...] = ()  # conditions: {voice: [...]}: one run per voice
    caller: CallerSpec | None = None  # a simulated caller talks before the steps run (qa/caller.py)
    judge: JudgeSpec | None = None  # criteria an LLM decides over the transcript (qa/judge.py)
    impair_runs: ImpairRuns | None = None  # repeated runs: a seeded share of them impaired

    def runs(self) -> list[Scenario]:
        """This scenario, or one per voice of its sweep (named after the voice)."""
        if not self.voice_sweep:
            return [self]
        return [
            dataclasses.replace(self, name=f"{self.name} [{c.voice.describe()}]", conditions=c, voice_sweep=())
            for c in self.voice_sweep
        ]

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def phrases(self) -> tuple[str, ...]:
        """Words the transcript checks care about (the recognizer's vocabulary in constrained mode)."""
        found = list(self.vocabulary)
        for step in self.steps:
            if step.say is not None and step.say.text:
                found.append(step.say.text)
            found.extend(step.contains)
        if self.caller is not None:
            found.extend(self.caller.phrases())
        return tuple(found)


# --- the node walker ---------------------------------------------------------
class _Checker:
    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, node: yaml.Node, message: str) -> ScenarioError:
        return ScenarioError(f"{self.path}:{node.start_mark.line + 1}: {message}")

    @staticmethod
    def kind_of(node: yaml.Node) -> str:
        if isinstance(node, yaml.MappingNode):
            return "a mapping"
        if isinstance(node, yaml.SequenceNode):
            return "a list"
        value = node.value
        if node.tag.endswith(":null") or value in ("", "~", "null"):
            return "nothing"
        if node.tag.endswith(":bool"):
            return f"true/false ({value})"
        if node.tag.endswith((":int", ":float")):
            return f"a number ({value})"
        return f"text ({value!r})"

    def mapping(self, node: yaml.Node, what: str, allowed: tuple[str, ...]) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{what}: expected a mapping with {', '.join(allowed)}, got {self.kind_of(node)}")
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if name not in allowed:
                raise self.fail(key, f"{what}: unknown key {name!r}; expected one of {', '.join(allowed)}")
            if name in out:
                raise self.fail(key, f"{what}: {name!r} is given twice")
            out[name] = (key, value)
        return out

    def text(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag.endswith((":null", ":bool")) or node.value == "":
            raise self.fail(node, f"{what}: expected text, got {self.kind_of(node)}")
        return str(node.value)

    def number(self, node: yaml.Node, what: str, minimum: float | None = 0.0) -> float:
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith((":int", ":float")):
            try:
                value = float(yaml.safe_load(node.value))
            except OverflowError:  # a YAML int with hundreds of digits
                value = math.inf
            # the command line's check (voicedesk/limits.py): .nan and .inf are YAML numbers too,
            # and a silence or timeout of either would never end
            why = problem(value, minimum=minimum)
            if why is not None:
                raise self.fail(node, f"{what}: {why}")
            return value
        raise self.fail(node, f"{what}: expected a number, got {self.kind_of(node)}")

    def texts(self, node: yaml.Node, what: str) -> tuple[str, ...]:
        if isinstance(node, yaml.SequenceNode):
            return tuple(self.text(item, what) for item in node.value)
        return (self.text(node, what),)

    def flag(self, node: yaml.Node, what: str) -> bool:
        if not (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":bool")):
            raise self.fail(node, f"{what}: expected true or false, got {self.kind_of(node)}")
        return bool(yaml.safe_load(node.value))

    # --- scenario parts ---
    def utterance(self, node: yaml.Node, what: str) -> Utterance:
        if isinstance(node, yaml.ScalarNode):
            return Utterance(text=self.text(node, what))
        keys = self.mapping(node, what, ("text", "wav", "tone", "seconds"))
        given = [k for k in ("text", "wav", "tone") if k in keys]
        if len(given) != 1:
            raise self.fail(
                node, f"{what}: expected exactly one of text, wav or tone, got {', '.join(given) or 'none'}"
            )
        seconds = self.number(keys["seconds"][1], f"{what}.seconds") if "seconds" in keys else 1.0
        if "text" in keys:
            return Utterance(text=self.text(keys["text"][1], f"{what}.text"))
        if "wav" in keys:
            wav_node = keys["wav"][1]
            wav = self.text(wav_node, f"{what}.wav")
            resolved = Path(wav) if Path(wav).is_absolute() else Path(self.path).parent / wav
            if resolved.is_dir():
                raise self.fail(wav_node, f"{what}.wav: {resolved} is a directory, not an audio file")
            if not resolved.is_file():
                raise self.fail(wav_node, f"{what}.wav: no such file {resolved}")
            return Utterance(wav=str(resolved))
        hz = self.number(keys["tone"][1], f"{what}.tone")
        if not 20 <= hz <= 20_000:
            raise self.fail(keys["tone"][1], f"{what}.tone: expected a frequency 20–20000 Hz, got {hz:g}")
        return Utterance(tone_hz=hz, seconds=seconds)

    def bound(self, node: yaml.Node, what: str) -> Bound:
        if isinstance(node, yaml.ScalarNode):
            return Bound(max=self.number(node, what, None))  # a bare number is an upper bound
        keys = self.mapping(node, what, ("min", "max"))
        if not keys:
            raise self.fail(node, f"{what}: expected min and/or max")
        return Bound(
            min=self.number(keys["min"][1], f"{what}.min", None) if "min" in keys else None,
            max=self.number(keys["max"][1], f"{what}.max", None) if "max" in keys else None,
        )

    def step(self, node: yaml.Node, index: int) -> Step:
        what = f"step {index}"
        line = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode) and node.value in ("hangup", "wait_reply"):
            return Step(kind=node.value, line=line)
        if not isinstance(node, yaml.MappingNode) or len(node.value) != 1:
            raise self.fail(
                node,
                f"{what}: expected one step — a mapping with one of {', '.join(STEP_KINDS)} "
                f"(or the word hangup) — got {self.kind_of(node)}"
                + (f" with {len(node.value)} keys" if isinstance(node, yaml.MappingNode) else ""),
            )
        key, value = node.value[0]
        kind = key.value if isinstance(key, yaml.ScalarNode) else None
        if kind not in STEP_KINDS:
            raise self.fail(key, f"{what}: unknown step {kind!r}; expected one of {', '.join(STEP_KINDS)}")
        what = f"step {index} ({kind})"
        if kind == "say":
            return Step(kind=kind, line=line, say=self.utterance(value, what))
        if kind in ("wait_reply", "hangup"):
            if kind == "hangup" or (isinstance(value, yaml.ScalarNode) and value.tag.endswith(":null")):
                return Step(kind=kind, line=line)
            keys = self.mapping(value, what, ("timeout",))
            timeout = self.number(keys["timeout"][1], f"{what}.timeout") if "timeout" in keys else 15.0
            return Step(kind=kind, line=line, timeout=timeout)
        if kind in (*EVENT_STEPS, "send_text"):
            return self.event_step(kind, value, what, line)
        if kind == "expect_transcript":
            keys = self.mapping(value, what, ("contains", "matches", "text", "wer_max"))
            if not keys:
                raise self.fail(value, f"{what}: expected contains and/or matches, or text with wer_max")
            if ("text" in keys) != ("wer_max" in keys):
                raise self.fail(value, f"{what}: expected text and wer_max together (the reply's words, how far off)")
            text = self.text(keys["text"][1], f"{what}.text") if "text" in keys else None
            wer_max = self.number(keys["wer_max"][1], f"{what}.wer_max") if "wer_max" in keys else None
            contains = self.texts(keys["contains"][1], f"{what}.contains") if "contains" in keys else ()
            matches = self.regex(keys["matches"][1], f"{what}.matches") if "matches" in keys else None
            return Step(kind=kind, line=line, contains=contains, matches=matches, text=text, wer_max=wer_max)
        if kind == "expect":
            keys = self.mapping(value, what, tuple(METRICS))
            if not keys:
                raise self.fail(value, f"{what}: expected at least one of {', '.join(METRICS)}")
            bounds = tuple((name, self.bound(v, f"{what}.{name}")) for name, (_, v) in keys.items())
            return Step(kind=kind, line=line, bounds=bounds)
        if kind == "silence":
            return Step(kind=kind, line=line, seconds=self.number(value, f"{what} (seconds)"))
        if kind == "barge_in":
            keys = self.mapping(value, what, ("after_ms", "say", "timeout"))
            if "say" not in keys:
                raise self.fail(value, f"{what}: missing 'say' (what to talk over the agent with)")
            return Step(
                kind=kind,
                line=line,
                say=self.utterance(keys["say"][1], f"{what}.say"),
                after_ms=self.number(keys["after_ms"][1], f"{what}.after_ms") if "after_ms" in keys else 500.0,
                timeout=self.number(keys["timeout"][1], f"{what}.timeout") if "timeout" in keys else 15.0,
            )
        if kind == "dtmf":
            return Step(kind=kind, line=line, dtmf=self.dtmf(value, what))
        # impair
        spec = self.text(value, what) if not (isinstance(value, yaml.ScalarNode) and value.value == "") else ""
        self.impairment(value, spec, what)
        return Step(kind=kind, line=line, impair=spec)

    def dtmf(self, node: yaml.Node, what: str) -> Dtmf:
        """``dtmf: "12#"`` or ``dtmf: {tones: "12#", mode: rfc4733, duration_ms: 100, gap_ms: 70}``."""
        if isinstance(node, yaml.MappingNode):
            keys = self.mapping(node, what, ("tones", "mode", "duration_ms", "gap_ms"))
            if "tones" not in keys:
                raise self.fail(node, f"{what}: missing 'tones' (the keys to press, e.g. \"12#\")")
            tones_node = keys["tones"][1]
        else:
            keys, tones_node = {}, node
        try:
            tones = validate_digits(self.text(tones_node, f"{what}.tones"))
            mode = check_mode(self.text(keys["mode"][1], f"{what}.mode")) if "mode" in keys else "auto"
        except ScenarioError:
            raise
        except ConfigError as exc:
            raise self.fail(tones_node if "mode" not in keys else keys["mode"][1], f"{what}: {exc}") from None
        numbers = {}
        for name, low, high in (("duration_ms", 40.0, 6000.0), ("gap_ms", 30.0, 6000.0)):
            if name in keys:
                value = self.number(keys[name][1], f"{what}.{name}")
                if not low <= value <= high:
                    raise self.fail(keys[name][1], f"{what}.{name}: expected {low:g}-{high:g} ms, got {value:g}")
                numbers[name] = value
        return Dtmf(tones, mode, **numbers)

    def regex(self, node: yaml.Node, what: str) -> str:
        pattern = self.text(node, what)
        try:
            re.compile(pattern)
        except re.error as exc:
            raise self.fail(node, f"{what}: not a regular expression: {exc}") from None
        return pattern

    def event_step(self, kind: str, value: yaml.Node, what: str, line: int) -> Step:
        if kind == "send_text":
            return Step(kind=kind, line=line, text=self.text(value, what))
        if kind == "expect_agent_transcript":
            keys = self.mapping(value, what, ("contains", "matches", "timeout"))
            if "contains" not in keys and "matches" not in keys:
                raise self.fail(value, f"{what}: expected contains and/or matches")
            matches = self.regex(keys["matches"][1], f"{what}.matches") if "matches" in keys else None
            contains = self.texts(keys["contains"][1], f"{what}.contains") if "contains" in keys else ()
            timeout = self.number(keys["timeout"][1], f"{what}.timeout") if "timeout" in keys else 10.0
            return Step(kind=kind, line=line, contains=contains, matches=matches, timeout=timeout)
        fields = ("type", "protocol", "timeout") if kind == "expect_event" else ("name", "args", "timeout")
        keys = self.mapping(value, what, fields)
        needed = fields[0]
        if needed not in keys:
            raise self.fail(value, f"{what}: missing {needed!r}")
        match: dict[str, Any] = {needed: self.text(keys[needed][1], f"{what}.{needed}")}
        if "protocol" in keys:
            match["protocol"] = self.text(keys["protocol"][1], f"{what}.protocol")
        if "args" in keys:
            args = keys["args"][1]
            if not isinstance(args, yaml.MappingNode):
                raise self.fail(
                    args, f"{what}.args: expected a mapping of the arguments to find, got {self.kind_of(args)}"
                )
            match["args"] = yaml.safe_load(yaml.serialize(args))
        timeout = self.number(keys["timeout"][1], f"{what}.timeout") if "timeout" in keys else 10.0
        return Step(kind=kind, line=line, match=match, timeout=timeout)

    def impairment(self, node: yaml.Node, spec: str, what: str) -> None:
        try:
            ImpairmentSpec.parse(spec)
        except ConfigError as exc:
            raise self.fail(node, f"{what}: {exc}") from None

    def scenario(self, node: yaml.Node, default_name: str) -> Scenario:
        top = (
            "name",
            "target",
            "ice",
            "timeout",
            "media_timeout",
            "impair",
            "stt",
            "stt_model",
            "vocabulary",
            "golden",
            "agent_events",
            "conditions",
            "steps",
            "caller",
            "judge",
            "impair_runs",
        )
        keys = self.mapping(node, "scenario", top)
        # a simulated caller's conversation may be the whole scenario: steps are then optional
        caller = None
        if "caller" in keys:
            caller = parse_caller(self, keys["caller"][1], keys["caller"][0].start_mark.line + 1)
        if "steps" not in keys and caller is None:
            raise self.fail(node, "scenario: missing 'steps' (a list of steps) or 'caller' (a simulated caller)")
        steps: tuple[Step, ...] = ()
        if "steps" in keys:
            steps_node = keys["steps"][1]
            if not isinstance(steps_node, yaml.SequenceNode) or not steps_node.value:
                raise self.fail(
                    steps_node, f"steps: expected a list of at least one step, got {self.kind_of(steps_node)}"
                )
            steps = tuple(self.step(item, i + 1) for i, item in enumerate(steps_node.value))
        impair = None
        if "impair" in keys:
            impair = self.text(keys["impair"][1], "impair")
            self.impairment(keys["impair"][1], impair, "impair")
        stt = "constrained"
        if "stt" in keys:
            stt = self.text(keys["stt"][1], "stt")
            if stt not in STT_CHOICES:
                raise self.fail(keys["stt"][1], f"stt: expected {', '.join(STT_CHOICES)}, got {stt!r}")
        stt_model = self.text(keys["stt_model"][1], "stt_model") if "stt_model" in keys else None
        if stt_model is not None and stt != "whisper":
            raise self.fail(keys["stt_model"][1], f"stt_model: for stt: whisper, not stt: {stt}")
        golden = GoldenPolicy()
        if "golden" in keys:
            g = self.mapping(keys["golden"][1], "golden", ("tolerance_ms", "transcripts"))
            transcripts = self.flag(g["transcripts"][1], "golden.transcripts") if "transcripts" in g else True
            golden = GoldenPolicy(
                tolerance_ms=self.number(g["tolerance_ms"][1], "golden.tolerance_ms") if "tolerance_ms" in g else 500.0,
                transcripts=transcripts,
            )
        agent_events = None
        if "agent_events" in keys:
            agent_events = self.text(keys["agent_events"][1], "agent_events")
            if agent_events not in AGENT_EVENTS_CHOICES:
                raise self.fail(
                    keys["agent_events"][1],
                    f"agent_events: expected one of {', '.join(AGENT_EVENTS_CHOICES)}, got {agent_events!r}",
                )
        conditions = None
        voices: tuple[Conditions, ...] = ()
        if "conditions" in keys:
            node_c = keys["conditions"][1]
            if not isinstance(node_c, yaml.MappingNode):
                raise self.fail(node_c, f"conditions: expected a mapping, got {self.kind_of(node_c)}")
            try:
                raw = yaml.safe_load(yaml.serialize(node_c)) or {}
                # voice: [a list] sweeps: the scenario runs once per voice
                sweep = raw.pop("voice") if isinstance(raw.get("voice"), list) else None
                conditions = Conditions.from_mapping(raw)
                voices = tuple(Conditions.from_mapping({**raw, "voice": v}) for v in sweep or ())
            except ConfigError as exc:
                raise self.fail(node_c, f"conditions: {str(exc).removeprefix('conditions: ')}") from None
        ice = None
        if "ice" in keys:
            ice_node = keys["ice"][1]
            if isinstance(ice_node, yaml.MappingNode):
                ice = yaml.safe_load(yaml.serialize(ice_node))
            else:
                ice = self.text(ice_node, "ice (an RTCConfiguration mapping, a file or a preset name)")
        for i, step in enumerate(steps):
            if step.kind in NEEDS_CALL and any(s.kind == "hangup" for s in steps[:i]):
                raise ScenarioError(
                    f"{self.path}:{step.line}: step {i + 1} ({step.kind}): the call is hung up before it; "
                    "expected only expect, expect_transcript or silence after hangup"
                )
            if step.kind == "barge_in" and not any(s.kind == "say" for s in steps[:i]):
                raise ScenarioError(f"{self.path}:{step.line}: step {i + 1} (barge_in): expected a say step before it")
        return Scenario(
            name=self.text(keys["name"][1], "name") if "name" in keys else default_name,
            path=self.path,
            line=node.start_mark.line + 1,
            target=self.text(keys["target"][1], "target") if "target" in keys else None,
            steps=steps,
            ice=ice,
            timeout=self.number(keys["timeout"][1], "timeout") if "timeout" in keys else 15.0,
            media_timeout=(
                self.number(keys["media_timeout"][1], "media_timeout") if "media_timeout" in keys else MEDIA_TIMEOUT
            ),
            impair=impair,
            stt_mode=stt,
            stt_model=stt_model,
            vocabulary=self.texts(keys["vocabulary"][1], "vocabulary") if "vocabulary" in keys else (),
            golden=golden,
            agent_events=agent_events,
            conditions=conditions,
            voice_sweep=voices,
            caller=caller,
            judge=parse_judge(self, keys["judge"][1], caller) if "judge" in keys else None,
            impair_runs=parse_impair_runs(self, keys["impair_runs"][1]) if "impair_runs" in keys else None,
        )


def parse_scenarios(text: str, path: str = "<scenario>") -> list[Scenario]:
    """All scenarios of a YAML text, or ScenarioError with ``path:line: what was expected``."""
    checker = _Checker(path)
    try:
        documents = [node for node in yaml.compose_all(text, Loader=yaml.SafeLoader) if node is not None]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise ScenarioError(f"{path}:{line}: not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    if not documents:
        raise ScenarioError(f"{path}:1: the file is empty; expected a scenario mapping with steps")
    stem = Path(path).stem
    return [
        run
        for i, node in enumerate(documents)
        for run in checker.scenario(node, stem if len(documents) == 1 else f"{stem}-{i + 1}").runs()
    ]


def load_scenarios(path: str | Path) -> list[Scenario]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the scenario: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not a text file; expected a YAML scenario") from None
    return parse_scenarios(text, str(path))
