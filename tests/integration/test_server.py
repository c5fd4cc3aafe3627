"""The embedded agent server over real HTTP: answers, limits, and session lifetime."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import urllib.request

import aiohttp
import pytest

from tests.helpers.calls import get_json, offline_peer, running_server
from tests.helpers.processes import open_fds, serve, serve_started, voicedesk, wait_until
from voicedesk.config import IceConfig
from voicedesk.errors import SignalingError
from voicedesk.media.sources import ToneTrack
from voicedesk.rtc.call import Call, CallState


async def real_offer() -> str:
    pc = offline_peer()
    pc.addTransceiver("audio")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


async def post(url: str, data: bytes, content_type: str = "application/json") -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=data, headers={"Content-Type": content_type}) as response,
    ):
        return response.status, await response.json(content_type=None)


async def test_health_counts_sessions_and_returns_to_zero():
    async with running_server("echo") as server:
        assert (await get_json(f"{server.base_url}/health"))["sessions"] == 0
        call = Call(server.offer_url, source=ToneTrack(700))
        await call.start()
        assert (await get_json(f"{server.base_url}/health"))["sessions"] == 1
        await asyncio.sleep(1.0)
        await call.hangup()
        for _ in range(100):
            if (await get_json(f"{server.base_url}/health"))["sessions"] == 0:
                break
            await asyncio.sleep(0.1)
        assert (await get_json(f"{server.base_url}/health"))["sessions"] == 0
        assert abs(call.rx.peak_hz() - 700) < 5


async def test_pc_id_is_accepted_and_returned():
    async with running_server("tone") as server:
        body = json.dumps({"sdp": await real_offer(), "type": "offer", "pc_id": "abc"}).encode()
        status, answer = await post(server.offer_url, body)
        assert status == 200
        assert answer["type"] == "answer" and answer["sdp"].startswith("v=0")
        assert isinstance(answer["pc_id"], str) and len(answer["pc_id"]) >= 16


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"{not json", "application/json", 400, "body is not valid JSON"),
        (b'{"type": "offer"}', "application/json", 400, 'with "sdp" and "type"'),
        (b'{"sdp": "v=0", "type": "answer"}', "application/json", 400, '"type" must be "offer"'),
        (b'{"sdp": "hello", "type": "offer"}', "application/json", 400, "is not SDP"),
        (b"v=0\r\n", "application/sdp", 415, "expected Content-Type application/json"),
        (b"x" * (65 * 1024), "application/json", 413, "over 64 KiB"),
    ],
)
async def test_bad_requests_are_refused_with_a_reason(body, content_type, status, message):
    async with running_server("echo") as server:
        got_status, answer = await post(server.offer_url, body, content_type)
        assert got_status == status
        assert message in answer["error"]
        assert (await get_json(f"{server.base_url}/health"))["sessions"] == 0


async def test_mutated_sdp_is_a_400_and_leaves_no_session():
    offer = await real_offer()
    not_applied = "offer could not be applied: "
    broken = [
        (offer.replace("a=fingerprint:sha-256", "a=fingerprint:sha-256 zz"), not_applied),
        (offer.replace("m=audio", "m=audio x"), not_applied),
        ("\r\n".join(line for line in offer.splitlines() if not line.startswith("a=ice-ufrag")) + "\r\n", not_applied),
        (offer.replace("a=setup:actpass", "a=setup:bogus"), not_applied),
        # aiortc would take this one and then wait for ever in a handshake it cannot verify
        ("v=0\r\nm=audio\r\n", "the offer has no a=fingerprint: its DTLS certificate cannot be verified"),
    ]
    async with running_server("echo") as server:
        for sdp, reason in broken:
            status, answer = await post(server.offer_url, json.dumps({"sdp": sdp, "type": "offer"}).encode())
            assert status == 400, (sdp[:60], answer)
            assert answer["error"].startswith(reason), answer
        await asyncio.sleep(0.2)
        assert (await get_json(f"{server.base_url}/health"))["sessions"] == 0
        # and the server still works
        call = Call(server.offer_url, source=ToneTrack(500))
        await call.start()
        await call.hangup()


async def test_session_limit_answers_503():
    async with running_server("echo", max_sessions=1) as server:
        first = Call(server.offer_url)
        await first.start()
        second = Call(server.offer_url)
        with pytest.raises(SignalingError, match="HTTP 503 Service Unavailable: server busy: 1 live sessions"):
            await second.start()
        assert second.state == CallState.FAILED
        await first.hangup()


async def test_unconnected_session_is_forgotten():
    async with running_server("echo", connect_timeout=1.0) as server:
        status, _ = await post(server.offer_url, json.dumps({"sdp": await real_offer(), "type": "offer"}).encode())
        assert status == 200
        assert (await get_json(f"{server.base_url}/health"))["sessions"] == 1
        await asyncio.sleep(1.5)
        assert (await get_json(f"{server.base_url}/health"))["sessions"] == 0


def health(base: str) -> dict:
    with urllib.request.urlopen(f"{base}/health", timeout=5) as response:
        return json.load(response)


@pytest.mark.slow
def test_thirty_calls_in_a_row_leave_nothing_behind():
    with serve("--agent", "echo") as (base, proc):
        fds = []

        async def calls() -> None:
            for i in range(30):
                call = Call(f"{base}/api/voice/offer", source=ToneTrack(800))
                await call.start()
                await asyncio.sleep(0.2)
                await call.hangup()
                assert call.state == CallState.ENDED
                if i in (4, 29):
                    assert wait_until(lambda: health(base)["sessions"] == 0, timeout=10)
                    fds.append(open_fds(proc.pid))

        asyncio.run(calls())
        assert wait_until(lambda: health(base)["sessions"] == 0, timeout=10)
        assert health(base)["sessions_total"] == 30
        assert fds[1] <= fds[0] + 2, f"open files grew from {fds[0]} to {fds[1]}"


def test_serve_warns_when_binding_beyond_loopback_and_reports_a_busy_port():
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = voicedesk("serve", "--host", "0.0.0.0", "--port", str(port), timeout=20)
    assert "exposes the agent server beyond this machine" in result.stderr
    assert result.returncode == 1
    assert f"cannot listen on 0.0.0.0:{port}: Address already in use" in result.stderr


def test_serve_says_that_media_listens_on_every_interface():
    with serve_started() as served:
        line = served.first_line
    assert re.match(r"VoiceDesk echo agent on http://127\.0\.0\.1:\d+  \(POST ", line), line
    assert line.rstrip().endswith("; media (UDP) on every interface address, whatever --host says")


async def test_health_says_sessions_gather_host_candidates_only_unless_given_servers():
    async with running_server("echo") as server:
        ice = (await get_json(f"{server.base_url}/health"))["ice"]
        assert ice == {"iceServers": [], "iceTransportPolicy": "all", "candidates": "host candidates only"}
    with_turn = IceConfig.from_json(
        {"iceServers": [{"urls": "turn:turn.example.com:3478", "username": "u", "credential": "secret"}]}
    )
    async with running_server("echo", ice=with_turn) as server:
        ice = (await get_json(f"{server.base_url}/health"))["ice"]
        assert ice["iceServers"][0]["credential"] == "***"
        assert ice["candidates"] == "host and relay (through turn:turn.example.com:3478)"


def test_serve_ice_preset_is_what_health_reports_with_and_without_workers():
    expected = "host and server-reflexive (from stun:stun.l.google.com:19302)"
    with serve("--agent", "echo", "--ice", "public-stun") as (base, _proc):
        assert health(base)["ice"]["candidates"] == expected
    with serve("--agent", "echo", "--ice", "public-stun", "--workers", "2") as (base, _proc):
        assert health(base)["ice"]["candidates"] == expected  # handed on to every worker
