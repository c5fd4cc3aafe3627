"""Agent events: the agents' own protocols on the data channel, read into one conversation.

Protocols (one module each, ``EventProtocol`` subclasses):

- ``voicedesk`` (voicedesk.py): VoiceDesk's agents, channel ``voicedesk``;
- ``rtvi`` (rtvi.py): pipecat's RTVI 2.x, channel ``chat`` as pipecat's clients open it;
  the caller sends ``client-ready`` and waits for ``bot-ready``;
- ``openai`` (openai.py): OpenAI Realtime server events, channel ``oai-events``; the
  caller may send a ``session.update`` first.

A call picks one with ``agent_events`` (``CallSpec.agent_events``, ``Call(agent_events=…)``,
``voicedesk call --agent-events``): ``auto`` (None) by the target's dialect (embedded
agents that send events → voicedesk, ``pipecat+`` and plain URLs ending in
``/api/offer`` → rtvi, ``openai+`` → openai, others none: an extra m=application section
can make an agent refuse the offer), a protocol's name, or ``off``.

How to use it (the window's conversation view, reports and scenario checks do this)::

    call = Call("pipecat+http://127.0.0.1:7860", agent_events="auto")
    call.add_listener(on_event)          # ConversationEvent subclasses as they arrive,
                                         # each with t_ms on the call's clock; also the raw
                                         # AgentEventReceived(event dict, t_ms, protocol)
    await call.start()
    call.send_text("what's the weather")            # RTVI send-text / OpenAI item + response
    call.send_client_message("set-mode", {"fast": True})   # RTVI client-message
    call.conversation.turns              # frozen Turn snapshots: caller/agent Utterance
                                         # (start/end on both clocks, transcripts labelled
                                         # agent / voicedesk / sent), tool_calls, metrics,
                                         # errors, interrupted
    summary["turns"], summary["agent_events_dropped"]

The model (events and turns) is model.py; the folding into turns conversation.py; the
data channel itself (limits, counting, sending, ready) channel.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from voicedesk.errors import ConfigError
from voicedesk.rtc.events.channel import MAX_MESSAGE_BYTES, READY_TIMEOUT, AgentEventReceived, AgentEventsChannel
from voicedesk.rtc.events.conversation import Conversation
from voicedesk.rtc.events.model import (
    AgentErrorReported,
    AgentLeft,
    AgentMetric,
    AgentReady,
    ConversationEvent,
    EventsNotice,
    Interrupted,
    MetricsReported,
    RawEventReceived,
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
from voicedesk.rtc.events.protocol import EventProtocol

__all__ = [
    "AGENT_EVENTS_CHOICES",
    "MAX_MESSAGE_BYTES",
    "PROTOCOLS",
    "AgentErrorReported",
    "AgentEventReceived",
    "AgentEventsChannel",
    "AgentEventsSetup",
    "AgentLeft",
    "AgentMetric",
    "AgentReady",
    "Conversation",
    "ConversationEvent",
    "EventProtocol",
    "EventsNotice",
    "Interrupted",
    "MetricsReported",
    "RawEventReceived",
    "Speaker",
    "SpeechStarted",
    "SpeechStopped",
    "TextSource",
    "ToolCall",
    "ToolCallReported",
    "ToolPhase",
    "Transcript",
    "TranscriptReceived",
    "Turn",
    "TurnReported",
    "Utterance",
    "check_agent_events",
    "make_protocol",
]

PROTOCOLS = ("voicedesk", "rtvi", "openai")
AGENT_EVENTS_CHOICES = ("auto", *PROTOCOLS, "off")


@dataclass(frozen=True)
class AgentEventsSetup:
    """What the caller sends on the events channel: ``session_update`` (OpenAI, first),
    ``send_text`` (each once the agent is ready), ``client_messages`` (RTVI
    ``client-message`` ``(type, data)``, once ready), and how long to wait for the agent's
    ready message (RTVI ``bot-ready``) before saying so."""

    session_update: Mapping[str, Any] | None = field(default=None, hash=False)
    send_text: tuple[str, ...] = ()
    client_messages: tuple[tuple[str, Any], ...] = field(default=(), hash=False)
    ready_timeout: float = READY_TIMEOUT


def check_agent_events(value: bool | str | None) -> str | None:
    """``agent_events`` as a protocol name, ``"off"``, or None for auto (True: voicedesk, the
    meaning of the flag before it took a value); ``ConfigError`` for an unknown word."""
    if value is None or value == "auto":
        return None
    if value is True:
        return "voicedesk"
    if value is False:
        return "off"
    if value not in AGENT_EVENTS_CHOICES:
        raise ConfigError(f"agent events must be one of {', '.join(AGENT_EVENTS_CHOICES)}, not {value!r}")
    return value


def make_protocol(name: str, setup: AgentEventsSetup | None = None) -> EventProtocol:
    if name == "rtvi":
        from voicedesk.rtc.events.rtvi import RtviEvents

        return RtviEvents()
    if name == "openai":
        from voicedesk.rtc.events.openai import OpenAIRealtimeEvents

        return OpenAIRealtimeEvents(setup.session_update if setup is not None else None)
    if name == "voicedesk":
        from voicedesk.rtc.events.voicedesk import VoiceDeskEvents

        return VoiceDeskEvents()
    raise ConfigError(f"no agent events protocol {name!r}: use one of {', '.join(PROTOCOLS)}")
