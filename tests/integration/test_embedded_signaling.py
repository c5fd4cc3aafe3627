"""``embedded:AGENT`` hands the offer to an agent in this process: no HTTP, still recorded."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys

import pytest
from aiortc import RTCSessionDescription

from tests.helpers.calls import real_offer
from voicedesk.agent.embedded import EmbeddedSignaling
from voicedesk.errors import SignalingError
from voicedesk.media.sources import ToneTrack
from voicedesk.rtc.call import Call
from voicedesk.rtc.signaling import signaling_for_target

CALL_WITHOUT_AIOHTTP = """
import asyncio, json, sys
from voicedesk.media.sources import ToneTrack
from voicedesk.rtc.call import Call

async def main():
    call = Call("embedded:echo", source=ToneTrack(1000))
    summary = await call.run(1.5)
    exchange = call.signaling.exchanges[0]
    print(json.dumps({
        "summary": summary.to_json(),
        "aiohttp": sorted(m for m in sys.modules if m.split(".")[0] == "aiohttp"),
        "line": exchange.one_line(),
        "sent": json.loads(exchange.request_body)["type"],
        "received": json.loads(exchange.response_body)["type"],
    }))

asyncio.run(main())
"""


def test_an_embedded_call_needs_no_http():
    result = subprocess.run([sys.executable, "-c", CALL_WITHOUT_AIOHTTP], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.splitlines()[-1])
    assert seen["summary"]["state"] == "connected"
    assert abs(seen["summary"]["rx_peak_hz"] - 1000) <= 5
    # the window's start-up saves aiohttp's import (~0.1 s) for embedded calls
    assert seen["aiohttp"] == []
    # the Signaling tab still shows what went to the agent and what came back
    assert seen["line"].startswith("in-process embedded:echo -> answered (")
    assert (seen["sent"], seen["received"]) == ("offer", "answer")


async def test_an_offer_the_agent_cannot_apply_is_one_line_and_recorded():
    signaling = EmbeddedSignaling("echo")
    try:
        with pytest.raises(SignalingError) as caught:
            offer = (await real_offer()).replace("a=rtcp-mux\r\n", "")
            await signaling.exchange(RTCSessionDescription(sdp=offer, type="offer"))
        text = str(caught.value)
        assert text == (
            "the embedded echo agent refused the offer: offer could not be applied: line 7: m-section 0 (audio, "
            "mid 0) has no a=rtcp-mux [missing-rtcp-mux] (aiortc: ValueError: RTCP mux is not enabled)"
        )
        assert "\n" not in text
        [exchange] = signaling.exchanges
        assert exchange.error is not None and "could not be applied" in exchange.error
        assert signaling.sessions is not None and signaling.sessions.sessions == {}  # nothing left behind
    finally:
        await signaling.close()


async def test_an_offer_without_a_fingerprint_is_refused_with_the_reason():
    """aiortc would accept it and then wait for ever in a handshake it cannot verify."""
    offer = "".join(line for line in (await real_offer()).splitlines(True) if not line.startswith("a=fingerprint:"))
    signaling = EmbeddedSignaling("echo")
    try:
        with pytest.raises(
            SignalingError, match="the offer has no a=fingerprint: its DTLS certificate cannot be verified"
        ):
            await signaling.exchange(RTCSessionDescription(sdp=offer, type="offer"))
    finally:
        await signaling.close()


async def test_the_recorded_exchange_names_the_agent_and_its_options_with_secrets_masked():
    signaling = EmbeddedSignaling("parrot?delay=300")
    try:
        await signaling.exchange(RTCSessionDescription(sdp=await real_offer(), type="offer"))
        [exchange] = signaling.exchanges
        assert exchange.one_line().startswith("in-process embedded:parrot?delay=300 -> answered (")
    finally:
        await signaling.close()
    secret = EmbeddedSignaling("voice?llm_url=http://127.0.0.1:9/v1&llm_key=sk-very-secret")
    assert secret.redacted_target() == "embedded:voice?llm_url=http://127.0.0.1:9/v1&llm_key=***"


async def test_embedded_http_goes_through_the_agent_server_and_stops_it():
    """``embedded+http:`` is the path other clients take: a real POST to the agent's own
    server on a free port; the server is gone when the call is."""
    call = Call("embedded+http:echo", source=ToneTrack(1000))
    summary = await call.run(1.5)
    assert summary["state"] == "connected" and abs(summary["rx_peak_hz"] - 1000) <= 5
    [exchange] = call.signaling.exchanges
    assert (exchange.method, exchange.status) == ("POST", 200)
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/voice/offer", exchange.url)
    port = int(exchange.url.split(":")[2].split("/")[0])
    with pytest.raises(OSError):  # refused: the server stopped with the call
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    # turn events still open for agents that send them
    assert signaling_for_target("embedded+http:parrot").sends_agent_events
    assert not signaling_for_target("embedded+http:echo").sends_agent_events
