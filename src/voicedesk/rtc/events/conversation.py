"""Conversation: folds conversation events (model.py) into turns as they arrive.

A turn is a caller utterance and what the agent did after it. A new turn begins when
the caller starts (speech or words) and the current turn already has the agent's part
(speech, text or a tool call), or when there is none yet; the agent's part without a
caller before it (a greeting) is a turn of its own. The caller starting while the agent
speaks cuts the agent's utterance (``interrupted``). voicedesk agents number their
turns themselves: their events go to the turn they name.

VoiceDesk's recognizer's words (``TranscriptReceived.heard_ms`` set) come seconds after
their audio, when other events may already have begun the next turn: they go by the time
of that audio instead, to the turn whose caller began last before the reply did (the
turn's agent utterance; one is made where the agent reported none), or to a turn of
their own where no caller input is known (an agent that reports nothing, whose callers
VoiceDesk did not type or speak for). A later pass over the same reply (``item_id``)
replaces the earlier one: live partials, then the final transcript.

``add`` is called on the event loop for each event (cheap: no copies); ``turns``
builds frozen snapshots when asked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from voicedesk.rtc.events.model import (
    AgentErrorReported,
    AgentMetric,
    ConversationEvent,
    Interrupted,
    MetricsReported,
    Speaker,
    SpeechStarted,
    SpeechStopped,
    TextSource,
    ToolCall,
    ToolCallReported,
    ToolPhase,
    Transcript,
    TranscriptReceived,
    Turn,
    TurnReported,
    Utterance,
)

MAX_EVENTS = 5000  # a long chatty call: the model keeps its turns, the event list its start
MAX_TURNS = 1000  # the latest turns of a very long call; the oldest go (their count stays)
HEARD_LOOKBACK = 50  # turns searched for where late recognizer words go (a reply is seconds, not 50 turns, old)
# an agent's "speaking" event reaches us before its audio has passed the jitter buffer and the
# decoder: words heard this long before a turn's reported start still belong to it
HEARD_LEAD_MS = 500.0


@dataclass
class _Utterance:
    who: Speaker
    start_ms: float | None = None
    end_ms: float | None = None
    agent_start_ms: float | None = None
    agent_end_ms: float | None = None
    transcripts: list[Transcript] = field(default_factory=list)
    interrupted: bool = False
    open: bool = False  # started and not yet stopped
    spoken: bool = False  # its start was reported (speech detected), not only its words

    def has_final(self, channel: str) -> bool:
        return any(t.final and t.channel == channel for t in self.transcripts)

    def freeze(self) -> Utterance:
        return Utterance(
            self.who,
            self.start_ms,
            self.end_ms,
            self.agent_start_ms,
            self.agent_end_ms,
            tuple(self.transcripts),
            self.interrupted,
        )


@dataclass
class _Turn:
    index: int
    protocol: str
    caller: _Utterance | None = None
    agent: _Utterance | None = None
    tools: list[ToolCall] = field(default_factory=list)
    metrics: list[AgentMetric] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    report: Mapping[str, Any] | None = None

    @property
    def agent_acted(self) -> bool:
        return self.agent is not None or bool(self.tools)

    def freeze(self) -> Turn:
        return Turn(
            self.index,
            self.protocol,
            self.caller.freeze() if self.caller is not None else None,
            self.agent.freeze() if self.agent is not None else None,
            tuple(self.tools),
            tuple(self.metrics),
            tuple(self.errors),
            self.report,
        )


class Conversation:
    """The turns of one call, built from its conversation events."""

    def __init__(self, protocol: str | None = None) -> None:
        self.protocol = protocol  # the events protocol of the call's channel, once it has one
        self.events: list[ConversationEvent] = []
        self.turns_forgotten = 0
        self._turns: list[_Turn] = []

    # reading ------------------------------------------------------------------------
    @property
    def turns(self) -> tuple[Turn, ...]:
        return tuple(turn.freeze() for turn in self._turns)

    def recent_turns(self, count: int) -> tuple[Turn, ...]:
        """The last ``count`` turns as snapshots: what a live view refreshes (events land in
        the latest turns), without freezing the whole call each time."""
        return tuple(turn.freeze() for turn in self._turns[-count:]) if count > 0 else ()

    def summary_turns(self) -> list[dict[str, Any]]:
        """``turns`` of the call summary: a voicedesk agent's own reports (only turns it
        reported, as before), every other protocol's turns as the model has them."""
        if self.protocol == "voicedesk":
            return [dict(turn.report) for turn in self._turns if turn.report is not None]
        return [turn.freeze().to_json() for turn in self._turns]

    # folding ------------------------------------------------------------------------
    def add(self, event: ConversationEvent) -> None:
        if len(self.events) < MAX_EVENTS:
            self.events.append(event)
        if isinstance(event, SpeechStarted):
            self._speech_started(event)
        elif isinstance(event, SpeechStopped):
            utterance = self._open(event, event.who) or self._existing(event, event.who)
            if utterance is not None:  # a stop with nothing started (or already cut) changes nothing
                utterance.open = False
                utterance.end_ms = event.t_ms
                utterance.agent_end_ms = event.agent_ms if event.agent_ms is not None else utterance.agent_end_ms
        elif isinstance(event, TranscriptReceived) and event.heard_ms is not None:
            self._heard(event)
        elif isinstance(event, TranscriptReceived):
            utterance = self._utterance(event, event.who)
            if utterance is not None:
                utterance.transcripts.append(
                    Transcript(event.text, event.source, event.final, event.t_ms, event.channel, event.delta)
                )
                if utterance.start_ms is None:
                    utterance.start_ms = event.t_ms
                if not utterance.spoken:  # no start/stop reported: the words are the times we know
                    utterance.end_ms = event.t_ms
        elif isinstance(event, ToolCallReported):
            self._tool(event)
        elif isinstance(event, MetricsReported):
            turn = self._current(event, create=False)  # figures alone make no turn
            if turn is not None:
                turn.metrics.extend(event.metrics)
        elif isinstance(event, Interrupted):
            turn = self._current(event, create=False)
            cut = self._open(event, Speaker.AGENT) or (turn.agent if turn is not None else None)
            if cut is not None:
                cut.interrupted = True
                if cut.open:  # the agent stopped there, whether or not a stop follows
                    cut.open = False
                    cut.end_ms = event.t_ms
        elif isinstance(event, AgentErrorReported):
            turn = self._current(event, create=False)
            if turn is not None:
                turn.errors.append(event.message)
        elif isinstance(event, TurnReported):
            turn = self._numbered(event.number, event.protocol) if event.number is not None else self._last()
            if turn is not None:
                turn.report = event.report

    def _heard(self, event: TranscriptReceived) -> None:
        assert event.heard_ms is not None
        start, end = event.heard_ms
        utterance = self._same_item(event) or self._placed(event.who, start, event)
        if utterance is None:
            return
        if event.item_id is not None:  # the final pass replaces the partials of the same reply
            utterance.transcripts = [t for t in utterance.transcripts if t.item_id != event.item_id]
        utterance.transcripts.append(
            Transcript(
                event.text,
                event.source,
                event.final,
                event.t_ms,
                event.channel,
                item_id=event.item_id,
                heard_ms=event.heard_ms,
                words=event.words,
            )
        )
        if not utterance.spoken:  # no start/stop reported: the audio heard gives the times
            utterance.start_ms = start if utterance.start_ms is None else min(utterance.start_ms, start)
            if end is not None:
                utterance.end_ms = end if utterance.end_ms is None else max(utterance.end_ms, end)

    def _same_item(self, event: TranscriptReceived) -> _Utterance | None:
        if event.item_id is None:
            return None
        for turn in reversed(self._turns[-HEARD_LOOKBACK:]):
            for utterance in (turn.agent, turn.caller):
                if utterance is not None and any(t.item_id == event.item_id for t in utterance.transcripts):
                    return utterance
        return None

    def _placed(self, who: Speaker, start: float, event: TranscriptReceived) -> _Utterance | None:
        """The utterance of ``who`` that audio beginning at ``start`` (call's clock) belongs to."""
        at = None
        for i in range(len(self._turns) - 1, max(-1, len(self._turns) - 1 - HEARD_LOOKBACK), -1):
            turn = self._turns[i]
            began = _turn_start(turn)
            # an agent's own "speaking" comes before its audio does; a caller's start does not
            lead = HEARD_LEAD_MS if turn.caller is None or turn.caller.start_ms is None else 0.0
            if began is not None and began <= start + lead:
                at = i
                break
        if at is None:  # before every turn kept (an agent's greeting heard late): a turn ahead of them
            if self._turns and _turn_start(self._turns[0]) is None:
                at = 0
            elif len(self._turns) >= MAX_TURNS:
                return None  # older than every turn a very long call still keeps
            else:
                self._turns.insert(
                    0, _Turn(self._turns[0].index - 1 if self._turns else 1, self.protocol or event.protocol)
                )
                at = 0
        turn = self._turns[at]
        mine = turn.caller if who == Speaker.CALLER else turn.agent
        if mine is None:
            return _part_of(turn, who)
        other = turn.caller if who == Speaker.AGENT else turn.agent
        if other is None and not mine.spoken and at == len(self._turns) - 1:
            # nothing but what was heard before (an agent that reports nothing, a caller VoiceDesk
            # did not speak for): each stretch of speech is a turn of its own
            new = self._new(self.protocol or event.protocol)
            return _part_of(new, who) if new is not None else None
        return mine

    def _speech_started(self, event: SpeechStarted) -> None:
        if event.who == Speaker.CALLER:
            current = self._last()
            if current is not None and current.agent is not None and current.agent.open:
                current.agent.interrupted = True  # the caller spoke over the agent
        utterance = self._utterance(event, event.who)
        if utterance is not None:
            utterance.open = utterance.spoken = True
            if utterance.start_ms is None:
                utterance.start_ms = event.t_ms
            if utterance.agent_start_ms is None:
                utterance.agent_start_ms = event.agent_ms

    def _open(self, event: ConversationEvent, who: Speaker) -> _Utterance | None:
        """The latest utterance of ``who`` still speaking: a stop or a cut that arrives after
        the next turn began (the caller typed while the agent spoke) belongs to it."""
        if event.turn_number is not None:
            return None  # numbered turns say where they go
        for turn in reversed(self._turns[-3:]):
            utterance = turn.caller if who == Speaker.CALLER else turn.agent
            if utterance is not None and utterance.open:
                return utterance
        return None

    def _awaiting_words(self, event: ConversationEvent) -> _Utterance | None:
        """The caller's spoken utterance these words are for, when they come after it (OpenAI
        transcribes while the agent already answers): the earliest recent one still without
        final words on this channel. Words VoiceDesk sent are a new input, never late."""
        if not isinstance(event, TranscriptReceived) or event.source == TextSource.SENT:
            return None
        if event.turn_number is not None:
            return None
        for turn in self._turns[-3:]:
            caller = turn.caller
            if caller is not None and caller.spoken and not caller.has_final(event.channel):
                return caller
        return None

    def _existing(self, event: ConversationEvent, who: Speaker) -> _Utterance | None:
        turn = self._current(event, create=False)
        if turn is None:
            return None
        return turn.caller if who == Speaker.CALLER else turn.agent

    def _utterance(self, event: ConversationEvent, who: Speaker) -> _Utterance | None:
        """The utterance of ``who`` that ``event`` belongs to (a new one where it starts)."""
        if who == Speaker.CALLER:
            late = self._awaiting_words(event)
            if late is not None:
                return late
            turn = self._current(event, caller_starts=True)
            if turn is None:
                return None
            if turn.caller is None:
                turn.caller = _Utterance(Speaker.CALLER)
            return turn.caller
        turn = self._current(event)
        if turn is None:
            return None
        if turn.agent is None:
            still_speaking = self._open(event, Speaker.AGENT)
            if isinstance(event, TranscriptReceived) and still_speaking is not None:
                return still_speaking  # words of the answer in flight when the caller typed
            turn.agent = _Utterance(Speaker.AGENT)
        return turn.agent

    def _current(self, event: ConversationEvent, *, caller_starts: bool = False, create: bool = True) -> _Turn | None:
        """The turn ``event`` belongs to; with ``caller_starts``, a new one where the caller
        begins after the agent acted, or begins in another way than the turn's caller did
        (typed text after speech, speech after typed text: two inputs, two turns)."""
        number = event.turn_number
        if number is not None:  # the agent numbers its turns (voicedesk)
            return self._numbered(number, self.protocol or event.protocol)
        current = self._last()
        if create and (
            current is None
            or (caller_starts and (current.agent_acted or _other_input(current, event) or _sent_again(current, event)))
        ):
            return self._new(self.protocol or event.protocol)
        return current

    def _numbered(self, number: int, protocol: str) -> _Turn | None:
        for turn in reversed(self._turns):
            if turn.index == number:
                return turn
        turn = _Turn(number, protocol)
        self._turns.append(turn)
        self._turns.sort(key=lambda t: t.index)
        self._forget_oldest()
        return turn if turn in self._turns else None

    def _new(self, protocol: str) -> _Turn | None:
        turn = _Turn((self._turns[-1].index if self._turns else 0) + 1, protocol)
        self._turns.append(turn)
        self._forget_oldest()
        return turn

    def _forget_oldest(self) -> None:
        # a call of hours keeps memory and each event's cost bounded (a turn that grew without
        # end would make every event slower); the turns keep their numbers
        extra = len(self._turns) - MAX_TURNS
        if extra > 0:
            del self._turns[:extra]
            self.turns_forgotten += extra

    def _last(self) -> _Turn | None:
        return self._turns[-1] if self._turns else None

    def _tool(self, event: ToolCallReported) -> None:
        turn = self._current(event)
        if turn is None:
            return
        at = None
        for i, call in enumerate(turn.tools):
            same_id = event.call_id is not None and call.call_id == event.call_id
            # RTVI's "started" names no call id: the next phase with the same name is that call
            waiting = call.call_id is None and call.ended_ms is None and (event.name in (None, call.name))
            if same_id or (waiting and event.phase != ToolPhase.STARTED):
                at = i
                break
        call = turn.tools[at] if at is not None else ToolCall(event.name, event.call_id, started_ms=event.t_ms)
        changes: dict[str, Any] = {}
        if event.name and not call.name:
            changes["name"] = event.name
        if event.call_id and not call.call_id:
            changes["call_id"] = event.call_id
        if event.args is not None:
            changes["args"] = dict(event.args)
        if event.phase in (ToolPhase.RESULT, ToolPhase.CANCELLED):
            changes["ended_ms"] = event.t_ms
            changes["cancelled"] = event.phase == ToolPhase.CANCELLED
            if event.result is not None:
                changes["result"] = event.result
        call = dataclasses.replace(call, **changes)
        if at is None:
            turn.tools.append(call)
        else:
            turn.tools[at] = call


def _part_of(turn: _Turn, who: Speaker) -> _Utterance:
    """A new utterance of ``who`` in ``turn`` (which has none)."""
    utterance = _Utterance(who)
    if who == Speaker.CALLER:
        turn.caller = utterance
    else:
        turn.agent = utterance
    return utterance


def _turn_start(turn: _Turn) -> float | None:
    """When a turn began on the call's clock: its caller's start, else its agent's, else its first tool."""
    for utterance in (turn.caller, turn.agent):
        if utterance is not None and utterance.start_ms is not None:
            return utterance.start_ms
    starts = [call.started_ms for call in turn.tools if call.started_ms is not None]
    return min(starts) if starts else None


def _sent_again(turn: _Turn, event: ConversationEvent) -> bool:
    """``event`` is words VoiceDesk gives the agent after other words it gave in this turn: two
    inputs (typed or spoken twice before any answer was known, as with an agent that reports
    nothing, whose answers VoiceDesk's recognizer places seconds later)."""
    if not isinstance(event, TranscriptReceived) or event.source != TextSource.SENT or turn.caller is None:
        return False
    return any(t.source == TextSource.SENT for t in turn.caller.transcripts)


def _other_input(turn: _Turn, event: ConversationEvent) -> bool:
    """Whether ``event`` starts a caller input of another kind than the turn's: typed text
    (send-text) against speech (detected, or words VoiceDesk spoke with say_text)."""
    if turn.caller is None:
        return False
    if isinstance(event, SpeechStarted):
        kind = "spoken"
    elif isinstance(event, TranscriptReceived) and event.source == TextSource.SENT:
        kind = "spoken" if event.channel == "say" else "typed"
    else:
        return False
    first = turn.caller.transcripts[0] if turn.caller.transcripts else None
    typed = first is not None and first.source == TextSource.SENT and first.channel != "say" and not turn.caller.spoken
    return kind != ("typed" if typed else "spoken")
