"""The conversation model: what an agent's event protocol says happened, as frozen data.

Two kinds of object:

- **Events** (``ConversationEvent`` subclasses) are what the protocol parsers
  (voicedesk.py, rtvi.py, openai.py) make of each data-channel message; the call puts
  them on its event stream (``Call.add_listener``) as they arrive. Every event has
  ``t_ms`` (when it arrived, on the call's clock: the axis of stats samples and call
  states), ``protocol`` (``voicedesk``, ``rtvi``, ``openai``, or ``caller`` for what
  VoiceDesk itself sent or spoke), ``type`` (the message type as the protocol names
  it: ``user-transcription``, ``conversation.item.input_audio_transcription.completed``,
  ``turn``…) and ``agent_ms`` (the agent's own clock, where the message carries one).
- **Turns** (``Turn``, ``Utterance``, ``Transcript``, ``ToolCall``) are what
  ``Conversation`` (conversation.py) folds the events into: who spoke from when to
  when, what was heard and said (each text labelled with its source), the tools the
  agent called, the figures it reported, interruptions and errors.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Speaker(enum.Enum):
    CALLER = "caller"  # VoiceDesk's side: the "user" of RTVI and OpenAI
    AGENT = "agent"  # the far side: RTVI's "bot", OpenAI's "assistant"


class TextSource(enum.Enum):
    """Where a text comes from: the same words can be known three ways, and they differ."""

    AGENT = "agent"  # the agent's own report (its recognizer, its LLM or TTS text)
    RECOGNIZER = "voicedesk"  # VoiceDesk's recognizer, run on the audio it sent or received
    SENT = "sent"  # what VoiceDesk itself typed (send-text) or spoke (say:) into the call


# events ------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class ConversationEvent:
    """One thing an agent reported (or VoiceDesk did) in a conversation; see the module doc."""

    t_ms: float  # arrival, on the call's clock (ms since the call started)
    protocol: str  # voicedesk, rtvi, openai, caller
    type: str  # the message type, in the protocol's own words
    agent_ms: float | None = None  # the agent's clock, where the message has one
    turn_number: int | None = None  # the agent's own number for the turn (voicedesk agents count)


@dataclass(frozen=True, kw_only=True)
class AgentReady(ConversationEvent):
    """The agent said it is ready (RTVI ``bot-ready``, OpenAI ``session.created``)."""

    version: str | None = None
    about: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, kw_only=True)
class SpeechStarted(ConversationEvent):
    who: Speaker


@dataclass(frozen=True, kw_only=True)
class SpeechStopped(ConversationEvent):
    who: Speaker


@dataclass(frozen=True, kw_only=True)
class TranscriptReceived(ConversationEvent):
    """Words of one side. ``delta``: a piece to append to the ones before it (a token
    stream), not a segment of its own. ``channel`` tells the agent's several texts
    apart (RTVI's ``bot-tts-text`` is what was spoken, ``bot-llm-text`` what was
    generated): the turn shows the best one it has.

    VoiceDesk's recognizer (``source`` RECOGNIZER, ``channel`` its label, "whisper
    tiny.en") hears a reply seconds after it was received: ``heard_ms`` is that reply's
    audio on the call's clock (start, end), and the conversation places the words by it,
    not by their arrival; ``words`` are (word, start_ms, end_ms) on the call's clock; a
    later text with the same ``item_id`` (the final pass after live partials) replaces
    the earlier one."""

    who: Speaker
    text: str
    final: bool = True
    source: TextSource = TextSource.AGENT
    channel: str = ""
    delta: bool = False
    item_id: str | None = None  # OpenAI's conversation item, where the text belongs to one
    heard_ms: tuple[float, float | None] | None = None  # the audio the recognizer heard it in
    words: tuple[tuple[str, float, float], ...] = ()


def caller_sent(text: str, t_ms: float, how: str) -> TranscriptReceived:
    """Words VoiceDesk itself gave the agent (``how``: ``send-text`` typed, ``say`` spoken)."""
    return TranscriptReceived(
        t_ms=round(t_ms, 1),
        protocol="caller",
        type=how,
        who=Speaker.CALLER,
        text=text,
        source=TextSource.SENT,
        channel=how,
    )


class ToolPhase(enum.Enum):
    STARTED = "started"  # the LLM asked for a function (its name may come alone)
    ARGUMENTS = "arguments"  # the arguments are known (the call runs)
    RESULT = "result"  # the function returned
    CANCELLED = "cancelled"


@dataclass(frozen=True, kw_only=True)
class ToolCallReported(ConversationEvent):
    phase: ToolPhase
    name: str | None = None
    call_id: str | None = None
    args: Mapping[str, Any] | None = field(default=None, hash=False)
    result: Any = field(default=None, hash=False)


@dataclass(frozen=True)
class AgentMetric:
    """One figure the agent reported: ``ttfb`` of a processor in ms, tokens used…"""

    name: str  # ttfb, ttfa, processing, prompt_tokens, total_tokens, characters…
    value: float
    unit: str  # ms or count
    processor: str | None = None  # which of the agent's stages (pipecat's processor name)
    model: str | None = None


@dataclass(frozen=True, kw_only=True)
class MetricsReported(ConversationEvent):
    metrics: tuple[AgentMetric, ...]


@dataclass(frozen=True, kw_only=True)
class Interrupted(ConversationEvent):
    """The agent's output was cut off (RTVI ``bot-interrupted``, a voicedesk ``barge_in``)."""

    who: Speaker = Speaker.AGENT


@dataclass(frozen=True, kw_only=True)
class AgentErrorReported(ConversationEvent):
    message: str
    fatal: bool = False


@dataclass(frozen=True, kw_only=True)
class TurnReported(ConversationEvent):
    """A voicedesk agent's own ``turn`` report (timings and latencies on its clock)."""

    number: int | None
    report: Mapping[str, Any] = field(hash=False)


@dataclass(frozen=True, kw_only=True)
class EventsNotice(ConversationEvent):
    """VoiceDesk's own remark about the events channel (``protocol`` is the channel's):
    the peer refused the data channel, no ``bot-ready`` came in time."""

    text: str


@dataclass(frozen=True, kw_only=True)
class AgentLeft(ConversationEvent):
    """The agent said it is leaving the call (SmallWebRTC's ``peerLeft``): the call ends as
    hung up by the peer, rather than wait for its media to stop."""

    reason: str


@dataclass(frozen=True, kw_only=True)
class RawEventReceived(ConversationEvent):
    """A message with no place in the model, kept as it came (shown raw). ``known``:
    the protocol defines it (``bot-llm-started``); False for a type VoiceDesk does not
    know, which is also counted in ``agent_events_dropped``."""

    data: Mapping[str, Any] = field(hash=False)
    known: bool = True


# the conversation --------------------------------------------------------------------
@dataclass(frozen=True)
class Transcript:
    text: str
    source: TextSource
    final: bool
    t_ms: float
    channel: str = ""
    delta: bool = False
    item_id: str | None = None
    heard_ms: tuple[float, float | None] | None = None  # the recognizer's: the audio it came from
    words: tuple[tuple[str, float, float], ...] = ()  # (word, start_ms, end_ms), the call's clock

    @property
    def audio_start_ms(self) -> float:
        """Where the words are in the call: the audio they were heard in, else their arrival."""
        return self.heard_ms[0] if self.heard_ms is not None else self.t_ms

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "source": self.source.value,
            "final": self.final,
            "t_ms": round(self.t_ms, 1),
            **({"channel": self.channel} if self.channel else {}),
            **({"heard_ms": [_r(t) for t in self.heard_ms]} if self.heard_ms is not None else {}),
            **({"words": [[w, round(s, 1), round(e, 1)] for w, s, e in self.words]} if self.words else {}),
        }


# the agent's texts, best first: what its TTS spoke beats what its LLM wrote
AGENT_CHANNELS = ("bot-tts-text", "bot-output", "bot-transcription", "response.output_audio_transcript", "bot-llm-text")


@dataclass(frozen=True)
class Utterance:
    """One side speaking once. Times on the call's clock (``start_ms``/``end_ms``: when
    the start/stop reached VoiceDesk, or the first/last words where no start/stop was
    reported) and on the agent's clock where reported."""

    who: Speaker
    start_ms: float | None = None
    end_ms: float | None = None
    agent_start_ms: float | None = None
    agent_end_ms: float | None = None
    transcripts: tuple[Transcript, ...] = ()
    interrupted: bool = False

    def text(self, source: TextSource | None = None) -> str | None:
        """The words of this utterance from ``source`` (None: the agent's own report if
        there is one, else VoiceDesk's recognizer, else what VoiceDesk sent)."""
        sources = [source] if source is not None else [TextSource.AGENT, TextSource.RECOGNIZER, TextSource.SENT]
        for wanted in sources:
            texts = [t for t in self.transcripts if t.source == wanted]
            if texts:
                return _best_text(texts)
        return None

    def heard(self) -> tuple[Transcript, ...]:
        """VoiceDesk's recognizer's texts of this utterance, in the order of their audio
        (one per stretch of received speech; a live partial until its final pass comes)."""
        return tuple(
            sorted((t for t in self.transcripts if t.source == TextSource.RECOGNIZER), key=lambda t: t.audio_start_ms)
        )

    @property
    def words(self) -> tuple[tuple[str, float, float], ...]:
        """The recognizer's words with their times on the call's clock (final passes only)."""
        return tuple(w for t in self.heard() for w in t.words)

    @property
    def recognizer(self) -> str | None:
        """The recognizer's label ("whisper tiny.en"), where it heard this utterance."""
        heard = self.heard()
        return heard[0].channel or None if heard else None

    def to_json(self) -> dict[str, Any]:
        timed = self.words
        return {
            "who": self.who.value,
            "start_ms": _r(self.start_ms),
            "end_ms": _r(self.end_ms),
            "agent_start_ms": _r(self.agent_start_ms),
            "agent_end_ms": _r(self.agent_end_ms),
            "text": self.text(),
            "texts": {s.value: words for s in TextSource if (words := self.text(s)) is not None},
            **({"heard_by": self.recognizer} if self.recognizer else {}),
            **({"words": [[w, round(s, 1), round(e, 1)] for w, s, e in timed]} if timed else {}),
            "interrupted": self.interrupted,
        }


def _best_text(texts: list[Transcript]) -> str | None:
    if texts[0].source == TextSource.RECOGNIZER:  # one text per stretch heard, each its latest pass
        joined = " ".join(t.text.strip() for t in sorted(texts, key=lambda t: t.audio_start_ms) if t.text.strip())
        return joined or None
    channels = [t.channel for t in texts]
    channel = next((c for c in AGENT_CHANNELS if c in channels), channels[0])
    texts = [t for t in texts if t.channel == channel]
    finals = [t for t in texts if t.final]
    if finals:  # segments of the utterance, each final: joined with spaces
        return " ".join(t.text.strip() for t in finals if t.text.strip()) or None
    if any(t.delta for t in texts):  # a token stream: the pieces carry their own spaces
        return "".join(t.text for t in texts).strip() or None
    return texts[-1].text.strip() or None  # partials replace each other


@dataclass(frozen=True)
class ToolCall:
    name: str | None
    call_id: str | None
    args: Mapping[str, Any] | None = field(default=None, hash=False)
    result: Any = field(default=None, hash=False)
    started_ms: float | None = None
    ended_ms: float | None = None
    cancelled: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "call_id": self.call_id,
            "args": dict(self.args) if self.args is not None else None,
            "result": self.result,
            "started_ms": _r(self.started_ms),
            "ended_ms": _r(self.ended_ms),
            "cancelled": self.cancelled,
        }


@dataclass(frozen=True)
class Turn:
    """A caller utterance and the agent's answer to it (either may be missing: an agent's
    greeting has no caller part). ``report``: a voicedesk agent's own turn report."""

    index: int
    protocol: str
    caller: Utterance | None = None
    agent: Utterance | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    metrics: tuple[AgentMetric, ...] = ()
    errors: tuple[str, ...] = ()
    report: Mapping[str, Any] | None = field(default=None, hash=False)

    @property
    def interrupted(self) -> bool:
        return self.agent is not None and self.agent.interrupted

    @property
    def heard(self) -> str | None:
        """What the caller said, as best known (the agent's transcript first)."""
        return self.caller.text() if self.caller is not None else None

    @property
    def said(self) -> str | None:
        return self.agent.text() if self.agent is not None else None

    def to_json(self) -> dict[str, Any]:
        """The turn as ``voicedesk call --json`` prints it in ``turns``: a voicedesk agent's
        own report as it sent it (the keys of before); for the other protocols the model."""
        if self.report is not None:
            return dict(self.report)
        return self.model_json()

    def model_json(self) -> dict[str, Any]:
        """The turn as the model has it, whatever the protocol (reports show this)."""
        return {
            "turn": self.index,
            "protocol": self.protocol,
            "caller": self.caller.to_json() if self.caller is not None else None,
            "agent": self.agent.to_json() if self.agent is not None else None,
            "heard": self.heard,
            "said": self.said,
            "interrupted": self.interrupted,
            "tool_calls": [call.to_json() for call in self.tool_calls],
            "metrics": [{k: v for k, v in vars(m).items() if v is not None} for m in self.metrics],
            "errors": list(self.errors),
            **({"report": dict(self.report)} if self.report is not None else {}),
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def describe(event: ConversationEvent) -> str:
    """One line for a log or a raw event list: ``rtvi user-transcription: caller said 'hi'``."""
    head = f"{event.protocol} {event.type}"
    if isinstance(event, TranscriptReceived):
        words = "said" if event.final else "saying"
        return f"{head}: {event.who.value} {words} {event.text!r} ({event.source.value})"
    if isinstance(event, SpeechStarted | SpeechStopped):
        verb = "started" if isinstance(event, SpeechStarted) else "stopped"
        return f"{head}: {event.who.value} {verb} speaking"
    if isinstance(event, ToolCallReported):
        detail = {
            ToolPhase.STARTED: "",
            ToolPhase.ARGUMENTS: f"({_short(event.args)})",
            ToolPhase.RESULT: f" -> {_short(event.result)}",
            ToolPhase.CANCELLED: " cancelled",
        }[event.phase]
        return f"{head}: tool {event.name or event.call_id or '?'}{detail}"
    if isinstance(event, MetricsReported):
        figures = ", ".join(
            f"{m.name}{'[' + m.processor + ']' if m.processor else ''} {m.value:g}{' ms' if m.unit == 'ms' else ''}"
            for m in event.metrics
        )
        return f"{head}: {figures or 'no figures'}"
    if isinstance(event, AgentReady):
        return f"{head}: agent ready{' (' + event.version + ')' if event.version else ''}"
    if isinstance(event, Interrupted):
        return f"{head}: {event.who.value} interrupted"
    if isinstance(event, AgentErrorReported):
        return f"{head}: agent error{' (fatal)' if event.fatal else ''}: {event.message}"
    if isinstance(event, TurnReported):
        return f"{head}: turn {event.number} reported"
    if isinstance(event, EventsNotice):
        return f"{head}: {event.text}"
    if isinstance(event, AgentLeft):
        return f"{head}: {event.reason}"
    if isinstance(event, RawEventReceived):
        return f"{head}: {'' if event.known else 'unknown, '}{_short(event.data)}"
    return head


def _short(value: object, limit: int = 120) -> str:
    text = repr(dict(value) if isinstance(value, Mapping) else value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
