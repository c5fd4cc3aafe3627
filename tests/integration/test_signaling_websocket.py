"""WebSocket JSON signaling: VoiceDesk's client against the embedded server's /ws, a relay
that trickles the answer's candidates one by one, and sockets that fail."""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
import pytest
from aiohttp import web

from tests.helpers.calls import real_offer, running_server
from tests.helpers.net import free_port
from tests.helpers.stub_server import StubServer
from voicedesk.errors import SignalingError
from voicedesk.media.sources import ToneTrack
from voicedesk.rtc.call import Call, candidates_in
from voicedesk.rtc.impair import ImpairmentSpec
from voicedesk.rtc.signaling.log import SignalingExchanged


async def wait_for_no_sessions(server, seconds: float = 10.0) -> bool:
    for _ in range(int(seconds * 10)):
        if not server.sessions:
            return True
        await asyncio.sleep(0.1)
    return not server.sessions


async def test_websocket_call_echoes_and_closing_the_socket_hangs_up():
    async with running_server("echo") as server:
        call = Call(f"ws://127.0.0.1:{server.port}/ws", source=ToneTrack(600))
        seen: list[SignalingExchanged] = []
        call.add_listener(lambda e: seen.append(e) if isinstance(e, SignalingExchanged) else None)
        await call.start()
        assert len(server.sessions) == 1
        await asyncio.sleep(1.5)
        await call.hangup()
        assert abs(call.rx.peak_hz() - 600) < 5
        assert [(e.method, e.status) for e in seen[:3]] == [("GET", 101), ("SEND", None), ("RECV", None)]
        assert json.loads(seen[1].request_body)["type"] == "offer"
        assert json.loads(seen[2].response_body)["type"] == "answer"
        assert await wait_for_no_sessions(server)


@pytest.mark.parametrize("impair", [None, "down.loss=10%"])
async def test_trickled_candidates_are_added(impair):
    """A relay hands the offer to the real server, then sends its answer WITHOUT candidates
    and trickles them as ice-candidate messages: the call connects only if they are added.
    With an impairment, the trickled candidates are routed through the impairment relay too."""
    async with running_server("echo") as server:
        trickled: list[str] = []

        async def relay(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            offer = json.loads((await ws.receive()).data)
            async with aiohttp.ClientSession() as http, http.post(server.offer_url, json=offer) as r:
                answer = await r.json()
            lines = answer["sdp"].split("\r\n")
            candidates = [line[2:] for line in lines if line.startswith("a=candidate:")]
            bare = "\r\n".join(line for line in lines if not line.startswith(("a=candidate:", "a=end-of-candidates")))
            await ws.send_json({"type": "answer", "sdp": bare})
            for candidate in candidates:
                await asyncio.sleep(0.2)
                trickled.append(candidate)
                await ws.send_json(
                    {"type": "ice-candidate", "candidate": {"candidate": candidate, "sdpMid": "0", "sdpMLineIndex": 0}}
                )
            await ws.send_json({"type": "ice-candidate", "candidate": None})
            async for _ in ws:
                pass
            return ws

        with StubServer({("GET", "/ws"): relay}) as stub:
            call = Call(
                f"ws://127.0.0.1:{stub.port}/ws",
                source=ToneTrack(650),
                timeout=20,
                impairment=ImpairmentSpec.parse(impair) if impair else None,
                impair_seed=3,
            )
            await call.start()
            await asyncio.sleep(1.5)
            await call.hangup()
        assert trickled, "the relay had no candidates to trickle"
        assert not candidates_in(call.remote_sdp)  # the answer itself carried none
        assert abs(call.rx.peak_hz() - 650) < 5
        if impair:
            down = call.relay.counters["down"]
            assert down.rtp_received > 30 and down.rtp_dropped > 0, down


async def test_a_socket_that_closes_before_the_answer_is_reported():
    async def closing(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()
        await ws.close(code=1011, message=b"agent crashed")
        return ws

    with StubServer({("GET", "/ws"): closing}) as stub:
        call = Call(f"ws://127.0.0.1:{stub.port}/ws", source=ToneTrack(500))
        with pytest.raises(SignalingError) as info:
            await call.start()
    assert str(info.value) == (
        f"the WebSocket at ws://127.0.0.1:{stub.port}/ws closed before an answer came "
        "(code 1011, server error: agent crashed)"
    )


async def test_a_socket_closed_by_the_peer_mid_call_is_the_peer_hanging_up():
    """A relay answers through the real server, then closes the socket a second later: the
    media still flows (the server's session lives on), but the peer hung up."""
    async with running_server("echo") as server:

        async def hanging_up(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            offer = json.loads((await ws.receive()).data)
            async with aiohttp.ClientSession() as http, http.post(server.offer_url, json=offer) as r:
                await ws.send_json({"type": "answer", "sdp": (await r.json())["sdp"]})
            await asyncio.sleep(1.0)
            await ws.close(code=1000, message=b"bye")
            return ws

        with StubServer({("GET", "/ws"): hanging_up}) as stub:
            call = Call(f"ws://127.0.0.1:{stub.port}/ws", source=ToneTrack(500))
            summary = await call.run(duration=10)
    assert summary.final_state == "failed"
    assert summary.peer_hung_up_at_ms is not None and summary.duration_ms < 5000  # not the 10 s asked
    assert summary.reason == (
        f"the peer hung up at t = {summary.peer_hung_up_at_ms / 1000:.1f} s: "
        f"the WebSocket at ws://127.0.0.1:{stub.port}/ws closed (code 1000, normal closure: bye)"
    )


async def test_an_error_message_from_the_server_is_shown():
    async with running_server("echo", max_sessions=0) as server:
        call = Call(f"ws://127.0.0.1:{server.port}/ws", source=ToneTrack(500))
        with pytest.raises(SignalingError, match=r"refused the offer: server busy: 0 live sessions \(limit 0\)"):
            await call.start()


async def test_server_replies_error_to_bad_messages():
    async with running_server("echo") as server, aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{server.base_url}/ws") as ws:
            await ws.send_str("{nope")
            assert "not valid JSON" in (await ws.receive_json())["error"]
            await ws.send_json({"type": "ice-candidate", "candidate": {"candidate": "x"}})
            assert (await ws.receive_json())["error"] == "ice-candidate before an offer"
            await ws.send_json({"type": "offer", "sdp": "hello"})
            assert "not SDP" in (await ws.receive_json())["error"]
            await ws.send_json({"type": "dance"})
            assert "unknown message type 'dance'" in (await ws.receive_json())["error"]
        assert server.sessions == {}


async def test_websocket_token_by_header_or_query():
    async with running_server("echo", token="tok-123") as server:
        url = f"ws://127.0.0.1:{server.port}/ws"
        refused = Call(url, source=ToneTrack(500))
        with pytest.raises(SignalingError) as info:
            await refused.start()
        assert str(info.value).startswith(f"{url} refused the WebSocket: HTTP 401 Unauthorized")

        call = Call(url, source=ToneTrack(500), headers={"Authorization": "Bearer tok-123"})
        await call.start()
        await call.hangup()

        async with aiohttp.ClientSession() as http, http.ws_connect(f"{url}?access_token=tok-123") as ws:
            await ws.send_json({"type": "offer", "sdp": await real_offer()})
            assert (await ws.receive_json())["type"] == "answer"
        assert await wait_for_no_sessions(server)


async def test_nothing_listening():
    port = free_port()
    call = Call(f"ws://127.0.0.1:{port}/ws", source=ToneTrack(500))
    with pytest.raises(SignalingError, match=rf"cannot connect to 127.0.0.1:{port}: connection refused"):
        await call.start()


async def test_a_token_in_the_websocket_url_is_never_shown(caplog):
    caplog.set_level(logging.INFO)
    async with running_server("echo", token="tok-123") as server:
        call = Call(f"ws://127.0.0.1:{server.port}/ws?access_token=tok-123", source=ToneTrack(500))
        await call.start()
        await call.hangup()
        summary = json.dumps(call.summary().to_json())
        wrong = Call(f"ws://127.0.0.1:{server.port}/ws?access_token=tok-456", source=ToneTrack(500))
        with pytest.raises(SignalingError) as refused:
            await wrong.start()
    assert "tok-123" not in caplog.text and "access_token=***" in caplog.text
    assert "tok-123" not in summary
    assert "tok-456" not in str(refused.value) and "access_token=***" in str(refused.value)
