"""VoiceDesk as an RTVI caller of a real pipecat bot (pipecat's runner, SmallWebRTC, its RTVI
processor and observer): the bot's own frames become RTVI messages, and those the turns a
user sees. One bot for the module (pipecat's import takes seconds)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.helpers.calls import until
from tests.helpers.pipecat_bot import running_pipecat_bot
from tests.helpers.processes import voicedesk
from voicedesk.media.sources import ToneTrack
from voicedesk.rtc.call import Call
from voicedesk.rtc.events import AgentEventReceived, AgentReady, ConversationEvent
from voicedesk.rtc.events.rtvi import message as rtvi_message


@pytest.fixture(scope="module")
def bot_url() -> Iterator[str]:
    with running_pipecat_bot() as url:
        yield url


def turn_over(call: Call, index: int) -> bool:
    turns = call.conversation.turns
    return len(turns) > index and turns[index].agent is not None and turns[index].agent.end_ms is not None


async def test_a_pipecat_bots_rtvi_messages_become_the_turns_shown(bot_url: str) -> None:
    call = Call(f"pipecat+{bot_url}", source=ToneTrack(440), timeout=30)
    events: list[object] = []
    call.add_listener(events.append)
    await call.start()
    try:
        await until(lambda: any(isinstance(e, AgentReady) for e in events), "bot-ready")
        call.send_client_message(
            "play-turn", {"said": "what is the weather in Paris", "reply": "It is sunny in Paris."}
        )
        await until(lambda: turn_over(call, 0), "the bot's reply")
        call.send_text("book a table for two")
        await until(lambda: turn_over(call, 1), "the reply to send-text")
        # the caller types while the bot speaks: send-text interrupts it (run_immediately)
        call.send_client_message("play-turn", {"said": "and tomorrow", "reply": "Tomorrow it rains all day long."})
        await until(lambda: len(call.conversation.turns) > 2 and call.conversation.turns[2].said, "the third reply")
        call.send_text("stop")
        await until(lambda: turn_over(call, 3), "the reply to the interruption")
        # RTVI's disconnect-bot ends the bot's pipeline; SmallWebRTC says peerLeft on its way out
        call.agent_events.send(rtvi_message("disconnect-bot", {}))
        await until(lambda: call.state.is_final, "the bot leaving")
    finally:
        await call.hangup()
    summary = call.summary()
    assert summary["final_state"] == "failed"
    assert summary["reason"].endswith("the pipecat bot left the call (SmallWebRTC peerLeft)")
    assert summary["peer_hung_up_at_ms"] > call.conversation.turns[3].agent.end_ms

    # the channel pipecat's clients open, client-ready answered by bot-ready with its id
    assert call.agent_events is not None and call.agent_events.channel.label == "chat"
    ready = call.agent_events.sent[0]
    assert (ready["label"], ready["type"], ready["data"]["version"]) == ("rtvi-ai", "client-ready", "2.2.0")
    bot_ready = next(e for e in events if isinstance(e, AgentEventReceived) and e.type == "bot-ready")
    assert bot_ready.event["id"] == ready["id"] and bot_ready.event["data"]["about"]["library"] == "pipecat-ai"

    first, second, third, fourth = call.conversation.turns
    assert first.heard == "what is the weather in Paris" and first.said == "It is sunny in Paris."
    caller, agent = first.caller, first.agent
    assert caller is not None and agent is not None
    # order on the caller's clock: the caller spoke, then the tool ran, then the bot spoke
    (tool,) = first.tool_calls
    assert 0 < caller.start_ms < caller.end_ms <= tool.started_ms <= tool.ended_ms <= agent.start_ms < agent.end_ms
    assert agent.end_ms - agent.start_ms > 300  # the bot's 0.6 s of speech, as its started/stopped said
    assert second.caller.start_ms > agent.end_ms
    assert summary["duration_ms"] > second.agent.end_ms
    assert (tool.name, tool.call_id, dict(tool.args or {})) == (
        "get_weather",
        "call_1",
        {"city": "Paris", "unit": "celsius"},
    )
    assert tool.result == {"sky": "sunny", "temp_c": 21} and not tool.cancelled
    assert [(m.name, m.value, m.unit, m.processor) for m in first.metrics] == [
        ("ttfb", 250.0, "ms", "ScriptedLLM"),
        ("processing", 400.0, "ms", "ScriptedLLM"),
    ]
    # send-text reached the bot: it says so (RTVI user-input) and answers it
    assert second.caller.text() == "book a table for two"  # the bot's own account comes first
    assert {t.source.value for t in second.caller.transcripts} == {"sent", "agent"}
    assert second.said == "You typed: book a table for two"

    assert not first.interrupted and not second.interrupted
    assert third.interrupted and third.agent.end_ms < fourth.agent.start_ms  # cut, then the answer
    assert third.agent.end_ms - third.agent.start_ms < 600 and fourth.said == "You typed: stop"

    assert summary["agent_events_dropped"] == 0
    assert [t["said"] for t in summary["turns"]] == [
        "It is sunny in Paris.",
        "You typed: book a table for two",
        "Tomorrow it rains all day long.",
        "You typed: stop",
    ]
    assert summary["turns"][0]["tool_calls"][0]["args"] == {"city": "Paris", "unit": "celsius"}
    assert summary["rx_audible_ms"] > 1000  # and the audio went both ways (the bot echoes)
    kinds = [type(e).__name__ for e in events if isinstance(e, ConversationEvent)]
    assert kinds.index("AgentReady") < kinds.index("SpeechStarted") < kinds.index("ToolCallReported")


def test_the_cli_sends_a_client_message_and_prints_the_events(bot_url: str) -> None:
    play = json.dumps({"said": "hi there", "reply": "Hello!"})
    result = voicedesk(
        "-v", "call", f"pipecat+{bot_url}", "--duration", "3", "--client-message", f"play-turn={play}", "--json"
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    (turn,) = summary["turns"]
    assert (turn["heard"], turn["said"], turn["tool_calls"][0]["name"]) == ("hi there", "Hello!", "get_weather")
    assert summary["agent_events_dropped"] == 0
    assert "rtvi bot-ready: agent ready (2.2.0)" in result.stderr
    assert "rtvi bot-tts-text: agent said 'Hello!' (agent)" in result.stderr
