"""WHIP (RFC 9725): VoiceDesk's client against the embedded server's endpoint, and against
endpoints that misbehave on purpose (stub servers on their own thread)."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from tests.helpers.calls import real_offer, running_server
from tests.helpers.ingest import IngestWhipServer
from tests.helpers.processes import voicedesk
from tests.helpers.stub_server import StubServer
from tests.helpers.turn import coturn  # noqa: F401 - fixture
from voicedesk.config import IceConfig
from voicedesk.errors import SignalingError
from voicedesk.media.sources import ToneTrack
from voicedesk.rtc.call import Call, candidates_in
from voicedesk.rtc.signaling.log import SignalingExchanged
from voicedesk.rtc.signaling.whip import WhipSignaling, parse_link_ice_servers


def exchanges_of(call: Call) -> list[SignalingExchanged]:
    seen: list[SignalingExchanged] = []
    call.add_listener(lambda e: seen.append(e) if isinstance(e, SignalingExchanged) else None)
    return seen


async def test_whip_call_to_the_embedded_server_echoes_and_delete_ends_the_session():
    async with running_server("echo") as server:
        call = Call(f"whip+{server.base_url}/whip", source=ToneTrack(700))
        seen = exchanges_of(call)
        await call.start()
        assert len(server.sessions) == 1
        await asyncio.sleep(1.5)
        await call.hangup()
        assert abs(call.rx.peak_hz() - 700) < 5
        assert [(e.method, e.status) for e in seen] == [("OPTIONS", 204), ("POST", 201), ("DELETE", 200)]
        post = seen[1]
        assert ("Content-Type", "application/sdp") in post.request_headers
        assert post.request_body.startswith("v=0") and post.response_body.startswith("v=0")
        assert post.t_ms is not None and post.t_ms >= 0 and post.elapsed_ms > 0
        assert seen[2].url.startswith(f"{server.base_url}/whip/sessions/")
        assert server.sessions == {}  # the DELETE closed it at once, not a watchdog later


async def test_whip_endpoint_answers_per_rfc_9725():
    async with running_server("echo") as server, aiohttp.ClientSession() as http:
        async with http.options(f"{server.base_url}/whip") as r:
            assert r.status == 204
            assert r.headers["Accept-Post"] == "application/sdp"
        offer = await real_offer()
        async with http.post(f"{server.base_url}/whip", data=offer, headers={"Content-Type": "application/sdp"}) as r:
            assert r.status == 201
            assert r.content_type == "application/sdp"
            location = r.headers["Location"]
            assert location.startswith("/whip/sessions/")
            token = location.rsplit("/", 1)[1]
            assert len(token) >= 32 and token not in server.sessions  # not the session id either
            assert (await r.text()).startswith("v=0")
        async with http.patch(f"{server.base_url}{location}", data="a=end-of-candidates") as r:
            assert r.status == 405
        async with http.delete(f"{server.base_url}{location}") as r:
            assert r.status == 200
        async with http.delete(f"{server.base_url}{location}") as r:
            assert r.status == 404
            assert r.content_type == "application/problem+json"
        async with http.delete(f"{server.base_url}/whip/sessions/guess") as r:
            assert r.status == 404
        async with http.post(f"{server.base_url}/whip", json={"sdp": offer}) as r:
            assert r.status == 415
        async with http.post(f"{server.base_url}/whip", data="hello", headers={"Content-Type": "application/sdp"}) as r:
            assert r.status == 400 and "not SDP" in (await r.json(content_type=None))["detail"]
        assert server.sessions == {}


async def test_whip_respects_the_session_limit():
    async with running_server("echo", max_sessions=1) as server:
        first = Call(f"whip+{server.base_url}/whip", source=ToneTrack(500))
        await first.start()
        second = Call(f"whip+{server.base_url}/whip", source=ToneTrack(500))
        with pytest.raises(SignalingError, match=r"HTTP 503 Service Unavailable: Service Unavailable: server busy"):
            await second.start()
        await first.hangup()
        assert server.sessions == {}


async def test_whip_bearer_token_is_required_and_masked():
    async with running_server("echo", token="s3cret-token") as server, aiohttp.ClientSession() as http:
        url = f"{server.base_url}/whip"
        offer = await real_offer()
        async with http.post(url, data=offer, headers={"Content-Type": "application/sdp"}) as r:
            assert r.status == 401
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
        async with http.post(
            url, data=offer, headers={"Content-Type": "application/sdp", "Authorization": "Bearer wrong"}
        ) as r:
            assert r.status == 401 and 'error="invalid_token"' in r.headers["WWW-Authenticate"]
        async with http.options(url) as r:
            assert r.status == 204  # discovery stays open (CORS preflights carry no token)
        async with http.post(server.offer_url, json={"sdp": offer, "type": "offer"}) as r:
            assert r.status == 401  # the JSON endpoint is guarded by the same token
            assert (await r.json())["error"] == "this server needs a bearer token"
        async with http.get(f"{server.base_url}/") as r:
            assert r.status == 200 and "VoiceDesk agent" in await r.text()

        refused = Call(f"whip+{url}", source=ToneTrack(500))
        with pytest.raises(SignalingError) as info:
            await refused.start()
        assert "HTTP 401 Unauthorized" in str(info.value) and "needs a bearer token" in str(info.value)
        assert "-H 'Authorization: Bearer" in str(info.value)

        call = Call(f"whip+{url}", source=ToneTrack(500), headers={"Authorization": "Bearer s3cret-token"})
        seen = exchanges_of(call)
        await call.start()
        await call.hangup()
        assert [e.status for e in seen] == [204, 201, 200]
        assert "s3cret-token" not in repr(seen)
        assert ("Authorization", "Bearer ***") in seen[1].request_headers
        assert server.sessions == {}


def test_link_headers_give_ice_servers():
    servers = parse_link_ice_servers(
        [
            '<stun:stun.example.net>; rel="ice-server"',
            '<turn:turn.example.net?transport=udp>; rel="ice-server"; username="user"; '
            'credential="pa;ss"; credential-type="password", <https://example.net/x>; rel="help"',
        ]
    )
    assert [(s.urls, s.username, s.credential) for s in servers] == [
        ("stun:stun.example.net", None, None),
        ("turn:turn.example.net?transport=udp", "user", "pa;ss"),
    ]


async def test_ice_servers_from_options_are_used_by_a_relay_only_call(coturn):  # noqa: F811
    """The TURN server exists only in the endpoint's Link header: a relay-only call connects
    through it only if VoiceDesk learned it before creating the peer connection."""
    async with running_server("echo") as server:
        link = f'<{coturn.url()}>; rel="ice-server"; username="vd"; credential="vdpass"; credential-type="password"'

        async def options(request: web.Request) -> web.Response:
            return web.Response(status=204, headers={"Link": link, "Accept-Post": "application/sdp"})

        async def post(request: web.Request) -> web.Response:
            return web.Response(status=307, headers={"Location": f"{server.base_url}/whip"})

        with StubServer({("OPTIONS", "/whip"): options, ("POST", "/whip"): post}) as stub:
            ice = IceConfig.from_json({"iceServers": [], "iceTransportPolicy": "relay"})
            call = Call(f"whip+{stub.url}/whip", source=ToneTrack(900), ice=ice, timeout=20)
            seen = exchanges_of(call)
            await call.start()
            await asyncio.sleep(1.5)
            await call.hangup()
        assert candidates_in(call.local_sdp) and all(c.startswith("relay") for c in candidates_in(call.local_sdp))
        assert abs(call.rx.peak_hz() - 900) < 5
        assert [(e.method, e.status) for e in seen] == [("OPTIONS", 204), ("POST", 307), ("POST", 201), ("DELETE", 200)]
        assert "vdpass" not in repr(seen)  # the Link credential is masked in what the panel shows


def whip_stub(post_handler) -> StubServer:
    return StubServer({("POST", "/whip"): post_handler, ("POST", "/b"): post_handler})


async def failing_call(url: str) -> str:
    call = Call(f"whip+{url}", source=ToneTrack(500), timeout=10.0)
    with pytest.raises(SignalingError) as info:
        await call.start()
    return str(info.value)


async def test_201_without_location_is_refused():
    async def post(request: web.Request) -> web.Response:
        return web.Response(status=201, text="v=0\r\n", content_type="application/sdp")

    with whip_stub(post) as stub:
        message = await failing_call(f"{stub.url}/whip")
    assert "answered 201 Created without a Location header" in message


async def test_redirect_loop_is_named():
    async def post(request: web.Request) -> web.Response:
        return web.Response(status=307, headers={"Location": "/b" if request.path == "/whip" else "/whip"})

    with whip_stub(post) as stub:
        message = await failing_call(f"{stub.url}/whip")
    assert message == f"WHIP endpoint redirects in a loop: {stub.url}/whip -> {stub.url}/b -> {stub.url}/whip"


async def test_problem_json_error_is_shown():
    async def post(request: web.Request) -> web.Response:
        body = {"type": "about:blank", "title": "Forbidden", "status": 403, "detail": "stream key revoked"}
        return web.json_response(body, status=403, content_type="application/problem+json")

    with whip_stub(post) as stub:
        message = await failing_call(f"{stub.url}/whip")
    assert message == f"WHIP endpoint {stub.url}/whip answered HTTP 403 Forbidden: Forbidden: stream key revoked"


async def test_a_silent_endpoint_times_out_with_a_clear_message():
    async def post(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(status=500)

    with whip_stub(post) as stub:
        call = Call(f"whip+{stub.url}/whip", source=ToneTrack(500), timeout=1.5)
        with pytest.raises(Exception) as info:
            await call.start()
    assert "1.5 s" in str(info.value)


async def test_relative_location_resolves_against_the_url_that_answered():
    async with running_server("echo") as server:

        async def post(request: web.Request) -> web.Response:
            return web.Response(status=307, headers={"Location": f"{server.base_url}/whip"})

        with whip_stub(post) as stub:
            signaling = WhipSignaling(f"{stub.url}/whip", learn_ice_servers=False)
            call = Call(signaling, source=ToneTrack(500))
            await call.start()
            assert signaling.resource_url is not None
            assert signaling.resource_url.startswith(f"{server.base_url}/whip/sessions/")
            await call.hangup()
        assert server.sessions == {}


async def test_an_endpoint_that_hangs_on_options_is_still_called():
    async with running_server("echo") as server:

        async def options(request: web.Request) -> web.Response:
            await asyncio.sleep(30)
            return web.Response(status=204)

        async def post(request: web.Request) -> web.Response:
            return web.Response(status=307, headers={"Location": f"{server.base_url}/whip"})

        with StubServer({("OPTIONS", "/whip"): options, ("POST", "/whip"): post}) as stub:
            call = Call(f"whip+{stub.url}/whip", source=ToneTrack(500), timeout=12)
            await call.start()
            await call.hangup()
        first = call.signaling.exchanges[0]
        assert first.method == "OPTIONS" and first.status is None and "within 3 s" in (first.error or "")
        assert [e.status for e in call.signaling.exchanges[1:]] == [307, 201, 200]


def test_an_ingest_endpoint_answering_recvonly_makes_a_send_only_call_that_succeeds():
    with IngestWhipServer() as ingest:
        result = voicedesk("call", f"whip+{ingest.url}/whip", "--direction", "sendonly", "--duration", "3", "--json")
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert "a=sendonly" in ingest.offers[0] and "a=recvonly" in ingest.answers[0]
        assert summary["direction"] == {"offered": "sendonly", "negotiated": "sendonly"}
        assert summary["packets_sent"] > 100 and ingest.frames_received > 100
        # aiortc's receiver sends RTCP receiver reports every ~1 s: the judgement cites them
        assert summary["judged"].startswith(f"{summary['packets_sent']} packets sent; the peer's receiver reports")
        assert list(summary)[-2:] == ["direction", "judged"]  # after every key of before

        # a sendrecv offer (the default) answered recvonly is understood the same way
        default = voicedesk("call", f"whip+{ingest.url}/whip", "--duration", "2")
        assert default.returncode == 0, default.stderr
        assert "direction      sendonly (offered sendrecv); judged: " in default.stdout


async def test_a_delete_just_after_the_client_closed_is_answered_200():
    async with running_server("echo") as server, aiohttp.ClientSession() as http:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver(ToneTrack(500), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        headers = {"Content-Type": "application/sdp"}
        async with http.post(f"{server.base_url}/whip", data=pc.localDescription.sdp, headers=headers) as r:
            assert r.status == 201
            location = r.headers["Location"]
            await pc.setRemoteDescription(RTCSessionDescription(sdp=await r.text(), type="answer"))
        for _ in range(100):
            if pc.connectionState == "connected":
                break
            await asyncio.sleep(0.05)
        await pc.close()  # the client closes first, as Medooze's whip-whep client does
        for _ in range(100):
            if not server.sessions:
                break
            await asyncio.sleep(0.05)
        assert server.sessions == {}
        async with http.delete(f"{server.base_url}{location}") as r:
            assert r.status == 200
        async with http.delete(f"{server.base_url}/whip/sessions/guess") as r:
            assert r.status == 404
