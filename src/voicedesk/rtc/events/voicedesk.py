"""VoiceDesk's own events protocol: JSON on a data channel labelled ``voicedesk``.

VoiceDesk's agents (``voice``, ``parrot``, ``script``; agent/conversation.py writes the
events) send live events (speech started/stopped, transcripts, response, audio out,
barge-in, errors) and one ``turn`` report per caller turn with its timings, all on the
agent's clock (``t_ms``) and numbered by turn. The format is in the README ("Turn
events"). Any agent may implement it.
"""

from __future__ import annotations

from typing import Any

from voicedesk.rtc.events.model import (
    AgentErrorReported,
    ConversationEvent,
    Interrupted,
    RawEventReceived,
    Speaker,
    SpeechStarted,
    SpeechStopped,
    TranscriptReceived,
    TurnReported,
)
from voicedesk.rtc.events.protocol import EventProtocol, Message, number, text

CHANNEL_LABEL = "voicedesk"
# "dtmf": a key the agent heard (RFC 4733 or in-band), shown raw
KNOWN_RAW = frozenset({"session_started", "session_ended", "response_started", "script_step", "dtmf"})


class VoiceDeskEvents(EventProtocol):
    name = "voicedesk"
    label = CHANNEL_LABEL
    arrival_key = "received_ms"  # the format of before: the reports carry it

    def parse(self, message: Message, t_ms: float) -> list[ConversationEvent] | None:
        kind = message.get("type")
        turn = message.get("turn")
        number_of_turn = turn if isinstance(turn, int) and not isinstance(turn, bool) else None
        base: dict[str, Any] = {
            "t_ms": t_ms,
            "protocol": self.name,
            "type": kind,
            "agent_ms": number(message.get("t_ms")),
            "turn_number": number_of_turn,
        }
        if kind == "speech_started":
            onset = number(message.get("onset_ms"))  # 0.0 is an onset at the start, not a missing one
            return [
                SpeechStarted(
                    who=Speaker.CALLER, **base | {"agent_ms": onset if onset is not None else base["agent_ms"]}
                )
            ]
        if kind == "speech_stopped":
            ended = number(message.get("speech_ended_ms"))
            return [
                SpeechStopped(
                    who=Speaker.CALLER, **base | {"agent_ms": ended if ended is not None else base["agent_ms"]}
                )
            ]
        if kind == "transcript":
            return [
                TranscriptReceived(
                    who=Speaker.CALLER,
                    text=text(message.get("text")),
                    final=bool(message.get("final")),
                    channel="transcript",
                    **base,
                )
            ]
        if kind == "response_ended":
            said = text(message.get("text"))
            return [TranscriptReceived(who=Speaker.AGENT, text=said, channel="response", **base)] if said else []
        if kind == "audio_out_started":
            return [SpeechStarted(who=Speaker.AGENT, **base)]
        if kind == "audio_out_stopped":
            stopped: list[ConversationEvent] = [SpeechStopped(who=Speaker.AGENT, **base)]
            if message.get("interrupted"):
                stopped.append(Interrupted(**base))
            return stopped
        if kind == "barge_in":
            return [Interrupted(**base)]
        if kind == "error":
            return [
                AgentErrorReported(
                    message=text(message.get("message")) or "error", fatal=bool(message.get("fatal")), **base
                )
            ]
        if kind == "turn":
            return [TurnReported(number=number_of_turn, report=dict(message), **base)]
        if kind in KNOWN_RAW:
            return [RawEventReceived(data=dict(message), **base)]
        return None
