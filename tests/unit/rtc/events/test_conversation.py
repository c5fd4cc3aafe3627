"""Conversation: events folded into turns, whichever protocol told them."""

from __future__ import annotations

from voicedesk.rtc.events import (
    Conversation,
    Interrupted,
    MetricsReported,
    Speaker,
    SpeechStarted,
    SpeechStopped,
    TextSource,
    ToolCallReported,
    ToolPhase,
    TranscriptReceived,
    make_protocol,
)

CALLER, AGENT = Speaker.CALLER, Speaker.AGENT


def base(t: float, kind: str = "x", protocol: str = "rtvi") -> dict[str, object]:
    return {"t_ms": t, "protocol": protocol, "type": kind}


def test_a_greeting_then_a_question_and_its_answer_are_two_turns() -> None:
    conversation = Conversation("rtvi")
    for event in (
        SpeechStarted(who=AGENT, **base(100)),
        TranscriptReceived(who=AGENT, text="Hello, how can I help?", **base(150)),
        SpeechStopped(who=AGENT, **base(900)),
        SpeechStarted(who=CALLER, **base(1200)),
        TranscriptReceived(who=CALLER, text="what time is it", **base(2000)),
        SpeechStopped(who=CALLER, **base(2100)),
        ToolCallReported(phase=ToolPhase.STARTED, name="clock", **base(2200)),
        ToolCallReported(phase=ToolPhase.ARGUMENTS, name="clock", call_id="c1", args={"tz": "UTC"}, **base(2210)),
        ToolCallReported(phase=ToolPhase.RESULT, name="clock", call_id="c1", result="12:00", **base(2300)),
        SpeechStarted(who=AGENT, **base(2400)),
        TranscriptReceived(who=AGENT, text="It is", delta=True, final=False, channel="bot-llm-text", **base(2410)),
        TranscriptReceived(who=AGENT, text=" noon.", delta=True, final=False, channel="bot-llm-text", **base(2420)),
        SpeechStopped(who=AGENT, **base(3000)),
    ):
        conversation.add(event)
    greeting, question = conversation.turns
    assert greeting.caller is None and greeting.said == "Hello, how can I help?"
    assert question.heard == "what time is it" and question.said == "It is noon."
    assert (question.caller.start_ms, question.caller.end_ms) == (1200, 2100)
    assert (question.agent.start_ms, question.agent.end_ms) == (2400, 3000)
    (tool,) = question.tool_calls  # the started phase named no call id: the next phase is that call
    assert (tool.name, tool.call_id, dict(tool.args), tool.result, tool.started_ms, tool.ended_ms) == (
        "clock",
        "c1",
        {"tz": "UTC"},
        "12:00",
        2200,
        2300,
    )


def test_the_caller_talking_over_the_agent_cuts_its_utterance_and_starts_a_turn() -> None:
    conversation = Conversation("rtvi")
    conversation.add(SpeechStarted(who=CALLER, **base(0)))
    conversation.add(SpeechStopped(who=CALLER, **base(500)))
    conversation.add(SpeechStarted(who=AGENT, **base(800)))
    conversation.add(SpeechStarted(who=CALLER, **base(1000)))
    conversation.add(Interrupted(**base(1050)))
    conversation.add(SpeechStopped(who=AGENT, **base(1100)))  # after the cut: changes nothing
    first, second = conversation.turns
    assert first.interrupted and first.agent.end_ms == 1050
    assert second.caller.start_ms == 1000 and second.agent is None


def test_each_text_keeps_its_source_and_the_agents_report_comes_first() -> None:
    conversation = Conversation("openai")
    conversation.add(SpeechStarted(who=CALLER, **base(0, protocol="openai")))
    conversation.add(SpeechStopped(who=CALLER, **base(900, protocol="openai")))
    conversation.add(TranscriptReceived(who=CALLER, text="helo", source=TextSource.RECOGNIZER, **base(950)))
    conversation.add(SpeechStarted(who=AGENT, **base(1000, protocol="openai")))
    # the agent's own transcription arrives after its answer began: still the caller's turn
    conversation.add(TranscriptReceived(who=CALLER, text="hello", channel="input", **base(1200, protocol="openai")))
    (turn,) = conversation.turns
    assert turn.heard == "hello" and turn.caller.text(TextSource.RECOGNIZER) == "helo"
    assert turn.caller.to_json()["texts"] == {"agent": "hello", "voicedesk": "helo"}
    assert turn.caller.end_ms == 900  # late words do not move the end the agent reported


def test_typed_text_is_an_input_of_its_own() -> None:
    conversation = Conversation("rtvi")
    conversation.add(SpeechStarted(who=CALLER, **base(0)))
    conversation.add(TranscriptReceived(who=CALLER, text="hi", **base(300)))
    typed = {"protocol": "caller", "type": "send-text", "source": TextSource.SENT, "channel": "send-text"}
    conversation.add(TranscriptReceived(t_ms=400, who=CALLER, text="order pizza", **typed))
    conversation.add(MetricsReported(metrics=(), **base(450)))
    spoken, written = conversation.turns
    assert spoken.heard == "hi" and written.heard == "order pizza" and written.protocol == "rtvi"


def test_voicedesk_turns_are_numbered_by_the_agent_and_summarised_as_its_reports() -> None:
    protocol = make_protocol("voicedesk")
    conversation = Conversation("voicedesk")
    messages = [
        {"type": "speech_started", "turn": 1, "t_ms": 1000.0, "onset_ms": 940.0},
        {"type": "speech_stopped", "turn": 1, "t_ms": 2500.0, "speech_ended_ms": 2000.0},
        {"type": "transcript", "turn": 1, "t_ms": 2600.0, "final": True, "text": "what is the weather"},
        {"type": "audio_out_started", "turn": 1, "t_ms": 2700.0},
        {"type": "response_ended", "turn": 1, "t_ms": 2710.0, "text": "Sunny."},
        {"type": "session_started", "turn": None, "t_ms": 0.0},
        {"type": "turn", "turn": 1, "transcript": "what is the weather", "response": "Sunny.", "received_ms": 3.0},
    ]
    for i, message in enumerate(messages):
        for event in protocol.parse(message, 10.0 * i) or []:
            conversation.add(event)
    (turn,) = conversation.turns
    assert turn.heard == "what is the weather" and turn.said == "Sunny."
    assert (turn.caller.agent_start_ms, turn.caller.agent_end_ms) == (940.0, 2000.0)  # the agent's clock
    assert conversation.summary_turns() == [messages[-1]]
    assert turn.model_json()["report"] == messages[-1]


def test_words_of_an_answer_in_flight_when_the_caller_types_stay_with_that_answer() -> None:
    conversation = Conversation("rtvi")
    typed = {"protocol": "caller", "type": "send-text", "source": TextSource.SENT, "channel": "send-text"}
    conversation.add(TranscriptReceived(t_ms=0, who=CALLER, text="weather?", **typed))
    conversation.add(SpeechStarted(who=AGENT, **base(100)))
    conversation.add(TranscriptReceived(t_ms=200, who=CALLER, text="stop", **typed))  # typed over the answer
    conversation.add(TranscriptReceived(who=AGENT, text="It rains.", channel="bot-tts-text", **base(210)))
    conversation.add(Interrupted(**base(220)))
    conversation.add(SpeechStarted(who=AGENT, **base(300)))
    conversation.add(TranscriptReceived(who=AGENT, text="Stopped.", channel="bot-tts-text", **base(310)))
    conversation.add(SpeechStopped(who=AGENT, **base(400)))
    first, second = conversation.turns
    assert (first.said, first.interrupted, first.agent.end_ms) == ("It rains.", True, 220)
    assert (second.heard, second.said, second.agent.start_ms) == ("stop", "Stopped.", 300)
