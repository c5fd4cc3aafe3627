"""An events channel's reader: what a peer sends there is data, never a crash."""

from __future__ import annotations

import json

from voicedesk.rtc.events import (
    AgentEventReceived,
    AgentEventsChannel,
    RawEventReceived,
    Speaker,
    TextSource,
    TranscriptReceived,
    make_protocol,
)
from voicedesk.rtc.events.rtvi import RtviEvents


def test_turn_events_are_kept_and_anything_else_is_counted_as_bad() -> None:
    seen: list[object] = []
    channel = AgentEventsChannel(make_protocol("voicedesk"), seen.append, lambda: 12.5)
    channel._on_message(json.dumps({"type": "turn", "turn": 1}))
    channel._on_message("[" * 30_000 + "]" * 30_000)  # 60 KB nested 30,000 deep: Python's parser recurses
    channel._on_message("not json")
    channel._on_message(b"\xff\xfe")
    assert channel.turns == [{"type": "turn", "turn": 1, "received_ms": 12.5}]
    assert channel.bad_messages == channel.dropped == 3
    assert [e.event for e in seen if isinstance(e, AgentEventReceived)] == [
        {"type": "turn", "turn": 1, "received_ms": 12.5}
    ]


def test_oversized_unknown_and_malformed_messages_are_counted_and_shown_never_raised() -> None:
    seen: list[object] = []
    channel = AgentEventsChannel(RtviEvents(), seen.append, lambda: 100.0)
    huge = json.dumps({"label": "rtvi-ai", "type": "server-message", "data": {"x": "a" * 70_000}})
    channel._on_message(huge)  # > 64 KiB
    channel._on_message(json.dumps({"label": "rtvi-ai", "type": "brand-new-thing", "data": {}}))
    channel._on_message(json.dumps({"label": "rtvi-ai", "type": "user-transcription", "data": "not an object"}))
    channel._on_message(json.dumps(["a list"]))
    channel._on_message(json.dumps({"label": "rtvi-ai", "type": 7}))
    channel._on_message("ping: 123")  # a keep-alive echoed back is no event
    channel._on_message(json.dumps({"label": "rtvi-ai", "type": "bot-transcription", "data": {"text": "Hi."}}))
    assert channel.dropped == 4  # huge, unknown type, a list, a type that is no string
    raw = [e for e in seen if isinstance(e, RawEventReceived)]
    assert [(r.type, r.known) for r in raw] == [("brand-new-thing", False)]
    words = [e for e in seen if isinstance(e, TranscriptReceived)]
    # a data field of the wrong type reads as no words rather than failing the message
    assert [(w.who, w.text) for w in words] == [(Speaker.CALLER, ""), (Speaker.AGENT, "Hi.")]
    assert channel.conversation.turns[-1].said == "Hi."


def test_text_sent_before_the_channel_opens_is_held_and_shown_as_the_callers() -> None:
    seen: list[object] = []
    channel = AgentEventsChannel(RtviEvents(), seen.append, lambda: 5.0)
    channel.send_text("book a table")
    channel.send_client_message("set-mode", {"fast": True})
    sent = [json.loads(m) for m in channel._queued]
    assert [m["type"] for m in sent] == ["send-text", "client-message"]
    assert sent[0]["label"] == "rtvi-ai" and sent[0]["data"]["content"] == "book a table"
    assert sent[1]["data"] == {"t": "set-mode", "d": {"fast": True}}
    (typed,) = [e for e in seen if isinstance(e, TranscriptReceived)]
    assert typed.source == TextSource.SENT and typed.who == Speaker.CALLER and typed.text == "book a table"


def test_the_size_limit_counts_bytes_of_a_text_message_not_characters() -> None:
    channel = AgentEventsChannel(make_protocol("voicedesk"), lambda _: None, lambda: 1.0)
    # 30,000 characters, 90,000 bytes in UTF-8: over the 64 KiB limit
    channel._on_message(json.dumps({"type": "turn", "turn": 1, "note": "€" * 30_000}, ensure_ascii=False))
    channel._on_message(json.dumps({"type": "turn", "turn": 2, "note": "a" * 30_000}))
    assert channel.dropped == 1
    assert [t["turn"] for t in channel.turns] == [2]


def test_an_onset_at_zero_is_the_agents_time_not_a_missing_one() -> None:
    seen: list[object] = []
    channel = AgentEventsChannel(make_protocol("voicedesk"), seen.append, lambda: 40.0)
    channel._on_message(json.dumps({"type": "speech_started", "t_ms": 260.0, "onset_ms": 0.0}))
    [started] = [e for e in seen if type(e).__name__ == "SpeechStarted"]
    assert started.agent_ms == 0.0
