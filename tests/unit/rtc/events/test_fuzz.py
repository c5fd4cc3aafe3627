"""Whatever a peer sends on an events channel: no exception, and turns that still print as JSON."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from voicedesk.rtc.events import AgentEventsChannel, make_protocol
from voicedesk.rtc.events.openai import AGENT_TRANSCRIPTS
from voicedesk.rtc.events.openai import KNOWN_RAW as OPENAI_RAW
from voicedesk.rtc.events.rtvi import KNOWN_RAW as RTVI_RAW

TYPES = sorted(
    {
        *RTVI_RAW,
        *OPENAI_RAW,
        *(f"{prefix}.{end}" for prefix in AGENT_TRANSCRIPTS for end in ("delta", "done")),
        "bot-ready",
        "user-transcription",
        "user-input",
        "bot-output",
        "bot-tts-text",
        "bot-llm-text",
        "user-started-speaking",
        "bot-stopped-speaking",
        "bot-interrupted",
        "llm-function-call",
        "llm-function-call-started",
        "llm-function-call-in-progress",
        "llm-function-call-stopped",
        "metrics",
        "error",
        "session.created",
        "input_audio_buffer.speech_started",
        "output_audio_buffer.started",
        "conversation.item.input_audio_transcription.completed",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.done",
        "speech_started",
        "transcript",
        "turn",
        "barge_in",
        "audio_out_stopped",
    }
)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
fields = st.sampled_from(
    ["data", "text", "delta", "transcript", "item", "arguments", "response", "turn", "t_ms", "final", "error", "name"]
)
messages = st.builds(
    lambda kind, extra, label: {"type": kind, **({"label": "rtvi-ai"} if label else {}), **extra},
    st.sampled_from(TYPES),
    st.dictionaries(fields, values, max_size=4),
    st.booleans(),
)


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(["rtvi", "openai", "voicedesk"]), st.lists(messages, max_size=12))
def test_any_messages_fold_into_turns_without_an_exception(protocol: str, batch: list[dict]) -> None:
    channel = AgentEventsChannel(make_protocol(protocol), lambda _e: None, lambda: 1.0)
    for message in batch:
        channel._on_message(json.dumps(message))
    json.dumps(channel.turns)  # the summary's turns are plain JSON
    for turn in channel.conversation.turns:
        json.dumps(turn.model_json(), default=str)
