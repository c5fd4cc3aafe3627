"""RTVI, pipecat's client/server protocol (2.x), as a caller reads and speaks it.

pipecat's own web client (``@pipecat-ai/small-webrtc-transport``) opens an ordered data
channel labelled ``chat`` before its offer, sends ``ping: <ms>`` on it every second (the
bot takes a client that stops pinging for gone), and ``client-ready`` with its protocol
version and an ``about`` block once connected; the bot answers ``bot-ready`` and from
then on reports the conversation. Every RTVI message is a JSON object
``{"label": "rtvi-ai", "type", "id"?, "data"?}``; the message models are in
``pipecat/processors/frameworks/rtvi/models.py``. SmallWebRTC's own messages on the
same channel (``{"type": "signalling", "message": …}``) carry no label.
"""

from __future__ import annotations

import uuid
from typing import Any

import voicedesk
from voicedesk.rtc.events.model import (
    AgentErrorReported,
    AgentLeft,
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

MESSAGE_LABEL = "rtvi-ai"
PROTOCOL_VERSION = "2.2.0"  # what pipecat 1.14 speaks; its JS client 1.13 says 2.1.0
CHANNEL_LABEL = "chat"  # what pipecat's small-webrtc JS transport names its data channel

# defined by RTVI but with no place in the turns: shown raw, not counted as unknown
KNOWN_RAW = frozenset(
    {
        "bot-llm-started",
        "bot-llm-stopped",
        "bot-tts-started",
        "bot-tts-stopped",
        "bot-llm-marker",
        "bot-tts-audio",
        "user-llm-text",
        "vad-user-started-speaking",
        "vad-user-stopped-speaking",
        "user-mute-started",
        "user-mute-stopped",
        "user-audio-level",
        "bot-audio-level",
        "system-log",
        "server-message",
        "server-response",
        "stt-raw-text",
        "llm-raw-text",
        "tts-raw-text",
        "ui-command",
        "ui-job-group",
        "signalling",  # SmallWebRTC's renegotiate / peerLeft (no rtvi-ai label)
    }
)
# the bot's texts: each a channel of its own (model.AGENT_CHANNELS ranks them)
AGENT_TEXT = {"bot-tts-text", "bot-output", "bot-transcription"}
# the figures pipecat reports in seconds, shown in ms
SECONDS = {"ttfb", "ttfa", "ttfat", "processing"}


class RtviEvents(EventProtocol):
    name = "rtvi"
    label = CHANNEL_LABEL
    ready_type = "bot-ready"
    keepalive = "ping"

    def hello(self) -> list[dict[str, Any]]:
        about = {"library": "voicedesk", "library_version": voicedesk.__version__, "platform": "python"}
        return [message("client-ready", {"version": PROTOCOL_VERSION, "about": about})]

    def text_messages(self, text: str) -> list[dict[str, Any]]:
        return [message("send-text", {"content": text, "options": {"run_immediately": True, "audio_response": True}})]

    def client_message(self, kind: str, data: Any = None) -> dict[str, Any]:
        return message("client-message", {"t": kind, "d": data})

    def parse(self, msg: Message, t_ms: float) -> list[ConversationEvent] | None:
        kind = msg.get("type")
        if msg.get("label") != MESSAGE_LABEL and kind != "signalling":
            return None
        data = mapping(msg.get("data"))
        base: dict[str, Any] = {"t_ms": t_ms, "protocol": self.name, "type": kind}
        if kind == "bot-ready":
            return [
                AgentReady(version=text(data.get("version")) or None, about=dict(mapping(data.get("about"))), **base)
            ]
        if kind in ("user-started-speaking", "bot-started-speaking"):
            return [SpeechStarted(who=Speaker.CALLER if kind.startswith("user") else Speaker.AGENT, **base)]
        if kind in ("user-stopped-speaking", "bot-stopped-speaking"):
            return [SpeechStopped(who=Speaker.CALLER if kind.startswith("user") else Speaker.AGENT, **base)]
        # user-input (2.2): what the bot took as the user's input, typed text (send-text) included
        if kind in ("user-transcription", "user-input"):
            final = data.get("final") is not False
            return [
                TranscriptReceived(who=Speaker.CALLER, text=text(data.get("text")), final=final, channel=kind, **base)
            ]
        if kind in AGENT_TEXT:
            # bot-output announcing a sentence its TTS will speak word by word (the words follow
            # as bot-output of their own): a partial, so the sentence is not shown twice
            announced = data.get("spoken_status") == "new" and data.get("will_be_spoken") is True
            said = text(data.get("text"))
            return [TranscriptReceived(who=Speaker.AGENT, text=said, final=not announced, channel=kind, **base)]
        if kind == "bot-llm-text":  # a token stream
            return [
                TranscriptReceived(
                    who=Speaker.AGENT, text=text(data.get("text")), final=False, delta=True, channel=kind, **base
                )
            ]
        if kind == "bot-interrupted":
            return [Interrupted(**base)]
        if kind in (
            "llm-function-call-started",
            "llm-function-call-in-progress",
            "llm-function-call",
            "llm-function-call-stopped",
        ):
            return [self._tool_call(kind, data, base)]
        if kind == "metrics":
            return [MetricsReported(metrics=tuple(metrics_of(data)), **base)]
        if kind in ("error", "error-response"):
            said = text(data.get("error")) or text(data.get("message")) or "error"
            return [AgentErrorReported(message=said, fatal=bool(data.get("fatal")), **base)]
        if kind == "signalling" and mapping(msg.get("message")).get("type") == "peerLeft":
            return [AgentLeft(reason="the pipecat bot left the call (SmallWebRTC peerLeft)", **base)]
        if kind in KNOWN_RAW:
            return [RawEventReceived(data=dict(msg), **base)]
        return None

    def _tool_call(self, kind: str, data: Message, base: dict[str, Any]) -> ToolCallReported:
        name = text(data.get("function_name")) or None
        call_id = text(data.get("tool_call_id")) or None
        if kind == "llm-function-call-started":
            return ToolCallReported(phase=ToolPhase.STARTED, name=name, **base)
        if kind == "llm-function-call-stopped":
            phase = ToolPhase.CANCELLED if data.get("cancelled") else ToolPhase.RESULT
            return ToolCallReported(phase=phase, name=name, call_id=call_id, result=data.get("result"), **base)
        args = data.get("arguments") if kind == "llm-function-call-in-progress" else data.get("args")
        return ToolCallReported(
            phase=ToolPhase.ARGUMENTS,
            name=name,
            call_id=call_id,
            args=dict(mapping(args)) if args is not None else None,
            **base,
        )


def metrics_of(data: Message) -> list[AgentMetric]:
    """pipecat's ``metrics`` data (``{"ttfb": [{"processor", "value", "model"?}], "tokens":
    [{"prompt_tokens", …}], …}``) as figures; times in ms."""
    out = []
    for kind, entries in data.items():
        for entry in entries if isinstance(entries, list) else []:
            entry = mapping(entry)
            processor = text(entry.get("processor")) or None
            model = text(entry.get("model")) or None
            value = number(entry.get("value"))
            if value is not None:
                ms = kind in SECONDS
                out.append(
                    AgentMetric(str(kind), value * 1000.0 if ms else value, "ms" if ms else "count", processor, model)
                )
                continue
            for name, count in entry.items():  # tokens: prompt_tokens, completion_tokens, total_tokens…
                figure = number(count)
                if figure is not None:
                    out.append(AgentMetric(str(name), figure, "count", processor, model))
    return out


def message(kind: str, data: Any) -> dict[str, Any]:
    """An RTVI message from the client, with an id as pipecat's JS client makes them."""
    return {"label": MESSAGE_LABEL, "type": kind, "id": uuid.uuid4().hex[:8], "data": data}
