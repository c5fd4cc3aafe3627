"""OpenAI Realtime server events, read from the ``oai-events`` data channel.

Over WebRTC the client opens a data channel labelled ``oai-events`` before its offer;
client events (``session.update``, ``conversation.item.create``, ``response.create``)
go out on it and server events come back. Both the beta names and the GA ones are read
(``response.audio_transcript.delta`` became ``response.output_audio_transcript.delta``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from voicedesk.errors import ConfigError
from voicedesk.rtc.events.model import (
    AgentErrorReported,
    AgentMetric,
    AgentReady,
    ConversationEvent,
    Interrupted,
    MetricsReported,
    RawEventReceived,
    Speaker,
    SpeechStarted,
    SpeechStopped,
    ToolCallReported,
    ToolPhase,
    TranscriptReceived,
)
from voicedesk.rtc.events.protocol import EventProtocol, Message, mapping, number, text
from voicedesk.rtc.signaling.log import parse_json

CHANNEL_LABEL = "oai-events"
TURN_DETECTION = ("server_vad", "semantic_vad", "none")

CALLER_TRANSCRIPT = "conversation.item.input_audio_transcription"
AGENT_TRANSCRIPTS = {  # prefix -> the channel its words are shown under
    "response.output_audio_transcript": "response.output_audio_transcript",
    "response.audio_transcript": "response.output_audio_transcript",
    "response.output_text": "response.output_text",
    "response.text": "response.output_text",
}
KNOWN_RAW = frozenset(
    {
        "session.updated",
        "conversation.created",
        "conversation.item.created",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.retrieved",
        "conversation.item.truncated",
        "conversation.item.deleted",
        "conversation.item.input_audio_transcription.segment",
        "input_audio_buffer.committed",
        "input_audio_buffer.cleared",
        "input_audio_buffer.timeout_triggered",
        "output_audio_buffer.cleared",
        "response.created",
        "response.output_item.added",
        "response.content_part.added",
        "response.content_part.done",
        "response.function_call_arguments.delta",
        "response.audio.delta",
        "response.audio.done",
        "response.output_audio.delta",
        "response.output_audio.done",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "rate_limits.updated",
    }
)


class OpenAIRealtimeEvents(EventProtocol):
    name = "openai"
    label = CHANNEL_LABEL

    def __init__(self, session_update: Mapping[str, Any] | None = None) -> None:
        self.session_update = dict(session_update) if session_update else None

    def hello(self) -> list[dict[str, Any]]:
        return [self.session_update] if self.session_update else []

    def text_messages(self, said: str) -> list[dict[str, Any]]:
        item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": said}]}
        return [{"type": "conversation.item.create", "item": item}, {"type": "response.create"}]

    def parse(self, msg: Message, t_ms: float) -> list[ConversationEvent] | None:
        kind = text(msg.get("type"))
        base: dict[str, Any] = {"t_ms": t_ms, "protocol": self.name, "type": kind}
        item_id = text(msg.get("item_id")) or None
        if kind == "session.created":
            session = mapping(msg.get("session"))
            return [AgentReady(version=text(session.get("model")) or None, about={"id": session.get("id")}, **base)]
        if kind == "input_audio_buffer.speech_started":
            return [SpeechStarted(who=Speaker.CALLER, **base, agent_ms=number(msg.get("audio_start_ms")))]
        if kind == "input_audio_buffer.speech_stopped":
            return [SpeechStopped(who=Speaker.CALLER, **base, agent_ms=number(msg.get("audio_end_ms")))]
        if kind == "output_audio_buffer.started":  # WebRTC only: the agent's audio began to play out
            return [SpeechStarted(who=Speaker.AGENT, **base)]
        if kind == "output_audio_buffer.stopped":
            return [SpeechStopped(who=Speaker.AGENT, **base)]
        if kind == "output_audio_buffer.cleared":  # cut off (the caller spoke, or response.cancel)
            return [Interrupted(**base)]
        if kind.startswith(CALLER_TRANSCRIPT + "."):
            phase = kind[len(CALLER_TRANSCRIPT) + 1 :]
            if phase == "delta":
                said = text(msg.get("delta"))
                return [_words(Speaker.CALLER, said, False, True, CALLER_TRANSCRIPT, item_id, base)]
            if phase == "completed":
                said = text(msg.get("transcript"))
                return [_words(Speaker.CALLER, said, True, False, CALLER_TRANSCRIPT, item_id, base)]
            if phase == "failed":
                why = text(mapping(msg.get("error")).get("message")) or "input transcription failed"
                return [AgentErrorReported(message=why, **base)]
        for prefix, channel in AGENT_TRANSCRIPTS.items():
            if kind == prefix + ".delta":
                return [_words(Speaker.AGENT, text(msg.get("delta")), False, True, channel, item_id, base)]
            if kind == prefix + ".done":
                said = text(msg.get("transcript")) or text(msg.get("text"))
                return [_words(Speaker.AGENT, said, True, False, channel, item_id, base)]
        if kind == "response.function_call_arguments.done":
            return [_tool(msg, base)]
        if kind == "response.output_item.done":
            item = mapping(msg.get("item"))
            if item.get("type") == "function_call":
                return [_tool(item, base)]
            return [RawEventReceived(data=dict(msg), **base)]
        if kind == "response.done":
            return self._response_done(msg, base)
        if kind == "error":
            error = mapping(msg.get("error"))
            return [AgentErrorReported(message=text(error.get("message")) or "error", **base)]
        if kind in KNOWN_RAW:
            return [RawEventReceived(data=dict(msg), **base)]
        return None

    def _response_done(self, msg: Message, base: dict[str, Any]) -> list[ConversationEvent]:
        response = mapping(msg.get("response"))
        out: list[ConversationEvent] = [RawEventReceived(data=dict(msg), **base)]
        usage = mapping(response.get("usage"))
        figures = tuple(
            AgentMetric(name, value, "count")
            for name, value in ((k, number(v)) for k, v in usage.items())
            if value is not None
        )
        if figures:
            out.append(MetricsReported(metrics=figures, **base))
        if response.get("status") == "failed":
            why = text(mapping(mapping(response.get("status_details")).get("error")).get("message"))
            out.append(AgentErrorReported(message=why or "the response failed", **base))
        return out


def _words(
    who: Speaker, said: str, final: bool, delta: bool, channel: str, item_id: str | None, base: dict[str, Any]
) -> TranscriptReceived:
    return TranscriptReceived(who=who, text=said, final=final, delta=delta, channel=channel, item_id=item_id, **base)


def _tool(msg: Message, base: dict[str, Any]) -> ToolCallReported:
    raw = msg.get("arguments")
    args: dict[str, Any] | None = None
    if isinstance(raw, str):
        try:
            parsed = parse_json(raw) if raw.strip() else {}
        except ValueError:
            parsed = None
        args = dict(parsed) if isinstance(parsed, Mapping) else {"_unparsed": raw}
    return ToolCallReported(
        phase=ToolPhase.ARGUMENTS,
        name=text(msg.get("name")) or None,
        call_id=text(msg.get("call_id")) or None,
        args=args,
        **base,
    )


def session_update(
    *,
    path: str | None = None,
    instructions: str | None = None,
    voice: str | None = None,
    turn_detection: str | None = None,
) -> dict[str, Any] | None:
    """The ``session.update`` to send first: a JSON file (a whole ``session.update`` event,
    or the ``session`` object alone) with the options laid over it, in the GA shape. None
    when nothing was asked. A file that cannot be used is a ``ConfigError`` (one line)."""
    session: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = parse_json(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"--session-update {path}: cannot read it ({exc.strerror or exc})") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"--session-update {path}: not JSON ({_json_problem(exc)})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(
                f"--session-update {path}: expected a JSON object (a session.update event or its session)"
            )
        if loaded.get("type") == "session.update":
            loaded = loaded.get("session")
            if not isinstance(loaded, dict):
                raise ConfigError(f'--session-update {path}: "session" must be a JSON object')
        session = dict(loaded)
    if turn_detection is not None and turn_detection not in TURN_DETECTION:
        raise ConfigError(f"turn detection must be one of {', '.join(TURN_DETECTION)}, not {turn_detection!r}")
    if path is None and instructions is None and voice is None and turn_detection is None:
        return None
    session.setdefault("type", "realtime")
    if instructions is not None:
        session["instructions"] = instructions
    if voice is not None or turn_detection is not None:
        audio = session.setdefault("audio", {})
        if voice is not None:
            audio.setdefault("output", {})["voice"] = voice
        if turn_detection is not None:
            audio.setdefault("input", {})["turn_detection"] = (
                None if turn_detection == "none" else {"type": turn_detection}
            )
    return {"type": "session.update", "session": session}


def _json_problem(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"line {exc.lineno} column {exc.colno}: {exc.msg}"
    return str(exc)
