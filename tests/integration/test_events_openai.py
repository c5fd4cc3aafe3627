"""OpenAI Realtime events as a caller reads them, against a local server in the API's WebRTC
shape (SDP POST with a bearer key, an aiortc peer, the ``oai-events`` channel and a script
of server events): the turn a user sees, what the caller sent first, and bad messages
counted while the call goes on."""

from __future__ import annotations

import asyncio
import json

from tests.helpers.calls import until
from tests.helpers.openai_realtime import KEY, RealtimeServer
from tests.helpers.processes import voicedesk
from voicedesk.cli import main
from voicedesk.media.sources import ToneTrack
from voicedesk.qa.runner import run_scenario
from voicedesk.qa.scenario import parse_scenarios
from voicedesk.rtc.call import Call
from voicedesk.rtc.events import AgentErrorReported, AgentEventsSetup, EventsNotice, RawEventReceived
from voicedesk.rtc.events.openai import session_update

BEARER = {"Authorization": f"Bearer {KEY}"}


async def test_realtime_events_become_the_turn_shown_and_bad_ones_are_counted() -> None:
    update = session_update(instructions="Answer in one sentence.", voice="marin", turn_detection="semantic_vad")
    with RealtimeServer() as server:
        call = Call(
            f"openai+{server.calls_url}?model=gpt-realtime",
            source=ToneTrack(700),
            headers=BEARER,
            agent_events_setup=AgentEventsSetup(session_update=update),
        )
        events: list[object] = []
        call.add_listener(events.append)
        await call.start()
        try:
            await until(lambda: any(isinstance(e, AgentErrorReported) for e in events), "the script's last event")
            call.send_text("book a table for two")
            await until(lambda: len(call.conversation.turns) > 1 and call.conversation.turns[1].said, "the reply")
            await asyncio.sleep(0.5)  # audio both ways for a moment
        finally:
            await call.hangup()
        received = list(server.received)
    summary = call.summary()

    # the caller's first event is the session.update, in the GA shape
    assert received[0] == {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "instructions": "Answer in one sentence.",
            "audio": {"output": {"voice": "marin"}, "input": {"turn_detection": {"type": "semantic_vad"}}},
        },
    }
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "book a table for two"}]}
    assert received[1:] == [{"type": "conversation.item.create", "item": item}, {"type": "response.create"}]
    assert call.agent_events is not None and call.agent_events.channel.label == "oai-events"

    first, second = call.conversation.turns
    # the caller's words came after the answer had begun: they still belong to its turn
    assert first.heard == "what is the weather in Paris" and first.said == "It is sunny."
    assert (first.caller.agent_start_ms, first.caller.agent_end_ms) == (1000.0, 2400.0)  # the API's audio clock
    assert 0 < first.caller.start_ms <= first.caller.end_ms <= first.agent.start_ms <= first.agent.end_ms
    (tool,) = first.tool_calls
    assert (tool.name, tool.call_id, dict(tool.args or {})) == (
        "get_weather",
        "call_9",
        {"city": "Paris", "unit": "celsius"},
    )
    assert {m.name: m.value for m in first.metrics} == {"total_tokens": 120, "input_tokens": 80, "output_tokens": 40}
    assert first.errors == ("Unknown parameter: 'session.bogus'.",)
    assert second.caller.text() == "book a table for two" and second.said == "You wrote: book a table for two"

    # an unknown type, broken JSON and a message over 64 KiB: counted and shown, the call went on
    assert summary["agent_events_dropped"] == 3
    unknown = [e for e in events if isinstance(e, RawEventReceived) and not e.known]
    assert [e.type for e in unknown] == ["response.brand_new_event"]
    assert not any(isinstance(e, EventsNotice) for e in events)
    assert summary["final_state"] == "ended" and abs(summary["rx_peak_hz"] - 700) < 10  # the peer echoed
    assert [t["said"] for t in summary["turns"]] == ["It is sunny.", "You wrote: book a table for two"]


def test_the_cli_sends_text_and_prints_the_turns(tmp_path) -> None:
    session = tmp_path / "session.json"
    session.write_text(json.dumps({"type": "session.update", "session": {"type": "realtime", "instructions": "Hi."}}))
    with RealtimeServer() as server:
        result = voicedesk(
            "-v",
            "call",
            f"openai+{server.calls_url}",
            "-H",
            f"Authorization: Bearer {KEY}",
            "--duration",
            "2",
            "--session-update",
            str(session),
            "--send-text",
            "hello there",
            "--report",
            str(tmp_path / "report"),
        )
        received = list(server.received)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    # the printed summary ends with the turns and what was dropped
    assert "agent turn 2   heard 'what is the weather in Paris', said 'It is sunny." in result.stdout
    assert "; tools get_weather" in result.stdout
    assert "agent events   3 dropped (not JSON, over 64 KiB or unknown)" in result.stdout
    assert [r["type"] for r in received] == ["session.update", "conversation.item.create", "response.create"]
    assert received[0]["session"] == {"type": "realtime", "instructions": "Hi."}
    # the typed words went out with the session.update, before the server's script: a turn of their own
    assert summary["turns"][0]["heard"] == "hello there"
    assert summary["turns"][1]["heard"] == "what is the weather in Paris"
    assert "You wrote: hello there" in summary["turns"][-1]["said"]
    assert summary["agent_events_dropped"] == 3
    # the report bundle shows the conversation
    conversation = json.loads((tmp_path / "report" / "conversation.json").read_text())
    assert conversation[1]["tool_calls"][0]["args"] == {"city": "Paris", "unit": "celsius"}
    html = (tmp_path / "report" / "report.html").read_text()
    assert "<h2>Conversation (the agent's events)</h2>" in html
    assert "what is the weather in Paris <small>(agent)</small>" in html and "hello there <small>(sent)</small>" in html
    # -v: each event as it came, on the call's clock
    assert (
        "openai conversation.item.input_audio_transcription.completed: caller said 'what is the weather in Paris'"
        in result.stderr
    )
    assert (
        "openai response.function_call_arguments.done: tool get_weather({'city': 'Paris', 'unit': 'celsius'})"
        in result.stderr
    )


def test_a_session_update_that_is_not_json_is_one_line_before_dialing(tmp_path, capsys) -> None:
    bad = tmp_path / "session.json"
    bad.write_text('{"type": "session.update", "session": {"instructions": "x",}}')
    target = "openai+http://127.0.0.1:9/v1/realtime/calls"  # nothing listens: no dialing happens
    code = main(["call", target, "-H", "Authorization: Bearer k", "--session-update", str(bad)])
    assert code == 1
    assert capsys.readouterr().err.strip() == (
        f"voicedesk: --session-update {bad}: not JSON "
        "(line 1 column 60: Expecting property name enclosed in double quotes)"
    )


def test_openai_session_options_to_another_agent_are_refused_not_ignored(capsys) -> None:
    target = "pipecat+http://127.0.0.1:9/api/offer"  # nothing listens: the refusal comes before dialing
    code = main(["call", target, "--instructions", "Answer briefly.", "--duration", "1"])
    assert code == 1
    assert capsys.readouterr().err.strip() == (
        "voicedesk: a session update (--session-update, --instructions, --voice, --turn-detection) is for "
        "OpenAI Realtime agents; this call reads rtvi events: use an openai+ target or --agent-events openai"
    )


SCENARIO = """
name: realtime events
agent_events: openai
steps:
  - send_text: book a table for two
  - expect_event: {type: session.created}
  - expect_tool_call: {name: get_weather, args: {city: Paris}}
  - expect_agent_transcript: {contains: [sunny, "you wrote: book a table"]}
  - expect_tool_call: {name: get_weather, args: {city: Lyon}, timeout: 0.5}
  - hangup
  - expect_event: {type: bot-ready, protocol: rtvi}
"""


async def test_scenario_steps_check_the_agents_events() -> None:
    (scenario,) = parse_scenarios(SCENARIO, "realtime.yaml")
    with RealtimeServer() as server:
        result = await run_scenario(scenario, target=f"openai+{server.calls_url}", headers=BEARER)
    assert result.error is None
    checks = [(c.line, c.kind, c.passed) for c in result.checks]
    assert checks == [
        (6, "expect_event", True),
        (7, "expect_tool_call", True),
        (8, "expect_agent_transcript", True),
        (9, "expect_tool_call", False),
        (11, "expect_event", False),
    ]
    lyon = result.checks[3]
    assert lyon.expected == "a tool call with name='get_weather', args={'city': 'Lyon'}"
    assert lyon.measured == "tool calls: get_weather({'city': 'Paris', 'unit': 'celsius'})"
    assert result.checks[4].measured.startswith("events: send-text, session.created, input_audio_buffer.speech_started")
