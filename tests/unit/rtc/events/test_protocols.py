"""The RTVI and OpenAI Realtime parsers and what the caller sends, message by message."""

from __future__ import annotations

import json

import pytest

from voicedesk.errors import ConfigError
from voicedesk.rtc.events import (
    AgentErrorReported,
    AgentReady,
    Interrupted,
    MetricsReported,
    Speaker,
    SpeechStarted,
    ToolCallReported,
    ToolPhase,
    TranscriptReceived,
    check_agent_events,
)
from voicedesk.rtc.events.model import describe
from voicedesk.rtc.events.openai import OpenAIRealtimeEvents, session_update
from voicedesk.rtc.events.rtvi import RtviEvents
from voicedesk.rtc.spec import CallSpec


def rtvi(kind: str, data: object = None) -> dict[str, object]:
    return {"label": "rtvi-ai", "type": kind, **({"data": data} if data is not None else {})}


def test_rtvi_messages_read_as_the_model() -> None:
    parse = RtviEvents().parse
    (ready,) = parse(rtvi("bot-ready", {"version": "2.2.0", "about": {"library": "pipecat-ai"}}), 1.0)
    assert isinstance(ready, AgentReady) and ready.version == "2.2.0"
    (heard,) = parse(rtvi("user-transcription", {"text": "hi", "final": False, "user_id": "u", "timestamp": "t"}), 2.0)
    assert isinstance(heard, TranscriptReceived) and (heard.who, heard.text, heard.final) == (
        Speaker.CALLER,
        "hi",
        False,
    )
    (tool,) = parse(rtvi("llm-function-call", {"function_name": "f", "tool_call_id": "1", "args": {"a": 1}}), 3.0)
    assert isinstance(tool, ToolCallReported) and (tool.phase, tool.name, dict(tool.args)) == (
        ToolPhase.ARGUMENTS,
        "f",
        {"a": 1},
    )
    (stopped,) = parse(rtvi("llm-function-call-stopped", {"tool_call_id": "1", "cancelled": True}), 4.0)
    assert stopped.phase == ToolPhase.CANCELLED
    (figures,) = parse(
        rtvi("metrics", {"tokens": [{"processor": "llm", "prompt_tokens": 10, "total_tokens": 14}]}), 5.0
    )
    assert isinstance(figures, MetricsReported)
    assert [(m.name, m.value, m.unit) for m in figures.metrics] == [
        ("prompt_tokens", 10, "count"),
        ("total_tokens", 14, "count"),
    ]
    assert isinstance(parse(rtvi("bot-interrupted"), 6.0)[0], Interrupted)
    (error,) = parse(rtvi("error", {"error": "TTS down", "fatal": True}), 7.0)
    assert (
        isinstance(error, AgentErrorReported)
        and error.fatal
        and describe(error) == "rtvi error: agent error (fatal): TTS down"
    )
    assert parse(rtvi("bot-llm-started"), 8.0)[0].known  # defined by RTVI: shown raw, not counted
    assert parse(rtvi("never-heard-of-it"), 9.0) is None
    assert parse({"type": "bot-ready"}, 9.0) is None  # no rtvi-ai label: not RTVI


def test_rtvi_client_messages_are_what_pipecats_client_sends() -> None:
    protocol = RtviEvents()
    (ready,) = protocol.hello()
    assert ready["label"] == "rtvi-ai" and ready["type"] == "client-ready" and len(ready["id"]) == 8
    assert ready["data"]["version"] == "2.2.0" and ready["data"]["about"]["library"] == "voicedesk"
    (text,) = protocol.text_messages("hi")
    assert text["type"] == "send-text" and text["data"] == {
        "content": "hi",
        "options": {"run_immediately": True, "audio_response": True},
    }
    assert protocol.client_message("set", [1])["data"] == {"t": "set", "d": [1]}


def test_openai_server_events_read_as_the_model_under_old_and_new_names() -> None:
    parse = OpenAIRealtimeEvents().parse
    (started,) = parse({"type": "input_audio_buffer.speech_started", "audio_start_ms": 120, "item_id": "i"}, 1.0)
    assert isinstance(started, SpeechStarted) and started.agent_ms == 120
    for name in ("response.audio_transcript.done", "response.output_audio_transcript.done"):
        (said,) = parse({"type": name, "transcript": "Hi there."}, 2.0)
        assert (said.who, said.text, said.final, said.channel) == (
            Speaker.AGENT,
            "Hi there.",
            True,
            "response.output_audio_transcript",
        )
    (tool,) = parse(
        {
            "type": "response.output_item.done",
            "item": {"type": "function_call", "name": "f", "call_id": "c", "arguments": "{bad"},
        },
        3.0,
    )
    assert tool.args == {"_unparsed": "{bad"}  # arguments that are not JSON are kept, as text
    _raw, usage = parse({"type": "response.done", "response": {"usage": {"total_tokens": 7, "details": {}}}}, 4.0)
    assert [(m.name, m.value) for m in usage.metrics] == [("total_tokens", 7.0)]
    assert parse({"type": "session.brand_new"}, 5.0) is None


def test_session_update_from_options_and_files(tmp_path) -> None:
    assert session_update() is None
    assert session_update(turn_detection="none") == {
        "type": "session.update",
        "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
    }
    whole = tmp_path / "whole.json"
    whole.write_text(json.dumps({"type": "session.update", "session": {"instructions": "a", "type": "realtime"}}))
    assert session_update(path=str(whole), instructions="b")["session"] == {"instructions": "b", "type": "realtime"}
    listed = tmp_path / "list.json"
    listed.write_text("[1]")
    with pytest.raises(
        ConfigError, match=r"list.json: expected a JSON object \(a session.update event or its session\)"
    ):
        session_update(path=str(listed))
    with pytest.raises(
        ConfigError, match=r"--session-update .*missing.json: cannot read it \(No such file or directory\)"
    ):
        session_update(path=str(tmp_path / "missing.json"))


def test_agent_events_take_a_protocol_name_and_refuse_others() -> None:
    assert [check_agent_events(v) for v in (None, "auto", True, False, "rtvi")] == [
        None,
        None,
        "voicedesk",
        "off",
        "rtvi",
    ]
    with pytest.raises(ConfigError, match="agent events must be one of auto, voicedesk, rtvi, openai, off, not 'sip'"):
        CallSpec("embedded:echo", agent_events="sip")
