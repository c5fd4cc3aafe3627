"""The "voicedesk" data channel's reader: what a peer sends there is data, never a crash."""

from __future__ import annotations

import json

from voicedesk.rtc.agent_events import AgentEventsChannel


def test_turn_events_are_kept_and_anything_else_is_counted_as_bad() -> None:
    seen = []
    channel = AgentEventsChannel(seen.append, lambda: 12.5)
    channel._on_message(json.dumps({"type": "turn", "turn": 1}))
    channel._on_message("[" * 30_000 + "]" * 30_000)  # 60 KB nested 30,000 deep: Python's parser recurses
    channel._on_message("not json")
    channel._on_message(b"\xff\xfe")
    assert channel.turns == [{"type": "turn", "turn": 1, "received_ms": 12.5}]
    assert channel.bad_messages == 3 and len(seen) == 1
