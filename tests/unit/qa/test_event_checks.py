"""Scenario steps on the agent's events: how they read, what they find, where a mistake is."""

from __future__ import annotations

import pytest

from voicedesk.qa.event_checks import event_found, subset, tool_found, words_found
from voicedesk.qa.scenario import ScenarioError, parse_scenarios
from voicedesk.rtc.events import (
    Conversation,
    Speaker,
    SpeechStarted,
    ToolCallReported,
    ToolPhase,
    TranscriptReceived,
)


def test_the_steps_read_with_their_defaults() -> None:
    (scenario,) = parse_scenarios(
        "agent_events: rtvi\n"
        "steps:\n"
        "  - send_text: hello\n"
        "  - expect_event: {type: bot-ready}\n"
        "  - expect_tool_call: {name: book, args: {guests: 2, when: {day: fri}}, timeout: 3}\n"
        "  - expect_agent_transcript: {matches: 'table for \\d'}\n",
        "s.yaml",
    )
    assert scenario.agent_events == "rtvi"
    send, event, tool, words = scenario.steps
    assert (send.kind, send.text) == ("send_text", "hello")
    assert (event.match, event.timeout) == ({"type": "bot-ready"}, 10.0)
    assert (tool.match, tool.timeout) == ({"name": "book", "args": {"guests": 2, "when": {"day": "fri"}}}, 3.0)
    assert words.describe() == "the agent's words matches /table for \\d/"


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ("expect_tool_call: {args: {a: 1}}", "s.yaml:3: step 1 (expect_tool_call): missing 'name'"),
        ("expect_tool_call: {name: f, args: [1]}", "s.yaml:3: step 1 (expect_tool_call).args: expected a mapping"),
        ("expect_event: {kind: x}", "s.yaml:3: step 1 (expect_event): unknown key 'kind'; expected one of type, "),
        ("expect_agent_transcript: {timeout: 2}", "s.yaml:3: step 1 (expect_agent_transcript): expected contains"),
        ("expect_agent_transcript: {matches: '('}", "s.yaml:3: step 1 (expect_agent_transcript).matches: not a reg"),
    ],
)
def test_a_mistake_points_at_its_line(step: str, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenarios(f"target: embedded:echo\nsteps:\n  - {step}\n", "s.yaml")
    assert str(info.value).startswith(message)


def test_what_the_checks_find() -> None:
    conversation = Conversation("rtvi")
    base = {"protocol": "rtvi"}
    conversation.add(SpeechStarted(t_ms=1, type="bot-started-speaking", who=Speaker.AGENT, **base))
    conversation.add(TranscriptReceived(t_ms=2, type="bot-tts-text", who=Speaker.AGENT, text="A table for 2.", **base))
    args = {"guests": 2, "when": {"day": "fri", "hour": 20}}
    conversation.add(ToolCallReported(t_ms=3, type="x", phase=ToolPhase.ARGUMENTS, name="book", args=args, **base))
    assert event_found(conversation, {"type": "bot-tts-text"}) and event_found(conversation, {"type": "SpeechStarted"})
    assert not event_found(conversation, {"type": "bot-tts-text", "protocol": "openai"})
    assert tool_found(conversation, {"name": "book", "args": {"when": {"day": "fri"}}})
    assert not tool_found(conversation, {"name": "book", "args": {"guests": 3}})
    assert words_found(conversation, ("table for 2",), r"for \d\.$") and not words_found(conversation, ("chair",), None)
    assert subset({"n": 2}, {"n": 2.0, "x": 1}) and not subset({"n": {"a": 1}}, {"n": 1})
