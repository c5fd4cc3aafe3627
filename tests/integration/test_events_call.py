"""The events channel's edges on a real call: an agent that never says it is ready, words
spoken into the call, and options that cannot work refused before dialing."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.helpers.calls import running_server
from voicedesk.errors import ConfigError
from voicedesk.media.sources import SilenceTrack, ToneTrack
from voicedesk.rtc.call import Call
from voicedesk.rtc.events import AgentEventsSetup, EventsNotice, TextSource


async def test_no_bot_ready_is_a_warning_and_the_call_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    # VoiceDesk's own echo server behind the pipecat dialect: it takes the data channel, says nothing on it
    async with running_server("echo") as server:
        call = Call(
            f"pipecat+{server.base_url}",
            source=ToneTrack(660),
            agent_events_setup=AgentEventsSetup(send_text=("hello",), ready_timeout=0.5),
        )
        notices: list[EventsNotice] = []
        noticed = asyncio.Event()

        def on_event(event: object) -> None:
            if isinstance(event, EventsNotice):
                notices.append(event)
                noticed.set()

        call.add_listener(on_event)
        await call.start()
        await asyncio.wait_for(noticed.wait(), 20)
        await asyncio.sleep(0.5)
        await call.hangup()
    assert [n.text for n in notices] == [
        "no bot-ready from the agent within 0.5 s of the 'chat' channel opening; the call goes on"
    ]
    assert "no bot-ready from the agent within 0.5 s" in caplog.text
    # the held text went out once the wait was over, and the call stayed up with its audio
    assert [m["type"] for m in call.agent_events.sent] == ["client-ready", "send-text"]
    assert call.summary()["final_state"] == "ended" and abs(call.rx.peak_hz() - 660) < 10


async def test_words_typed_to_be_spoken_go_out_as_audio_and_join_the_conversation() -> None:
    call = Call("embedded:echo", source=SilenceTrack())
    await call.start()
    try:
        seconds = await call.say_text("hello, can you hear me")
        await asyncio.sleep(seconds + 0.5)
    finally:
        await call.hangup()
    assert 0.8 < seconds < 4
    (turn,) = call.conversation.turns
    assert turn.caller.text(TextSource.SENT) == "hello, can you hear me"
    assert call.summary()["rx_audible_ms"] > 500  # the echo brought the words back


def test_text_for_a_call_without_an_events_channel_is_refused_before_dialing() -> None:
    with pytest.raises(ConfigError, match="name the protocol"):
        Call("embedded:echo", agent_events="off", agent_events_setup=AgentEventsSetup(send_text=("hi",)))
    with pytest.raises(ConfigError, match="the voicedesk events protocol cannot send text to the agent"):
        Call("embedded:echo", agent_events="voicedesk", agent_events_setup=AgentEventsSetup(send_text=("hi",)))


async def test_an_answer_that_refuses_the_data_channel_is_said_once_and_the_call_goes_on() -> None:
    async def refuse(sdp: str) -> str:  # what an agent that takes no data channel answers
        return re.sub(r"^m=application \d+", "m=application 0", sdp, flags=re.MULTILINE)

    call = Call("embedded:echo", source=ToneTrack(500), agent_events="rtvi", edit_answer=refuse)
    notices: list[EventsNotice] = []
    call.add_listener(lambda e: notices.append(e) if isinstance(e, EventsNotice) else None)
    await call.start()
    await asyncio.sleep(1.0)
    await call.hangup()
    assert [n.text for n in notices] == [
        "the peer did not take the 'chat' data channel (the answer has no m=application section, "
        "or rejects it with port 0): no agent events"
    ]
    assert call.summary()["final_state"] == "ended" and abs(call.rx.peak_hz() - 500) < 10
