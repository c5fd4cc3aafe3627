"""The OpenAI Realtime WebRTC shape against a local server that speaks it: POST application/sdp
with a bearer key to /v1/realtime/calls, SDP answer in the body, Location names the call,
hang-up is POST <Location>/hangup. The local server hands the offer to the embedded agent."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from tests.helpers.calls import running_server
from tests.helpers.stub_server import StubServer
from voicedesk.errors import ConfigError, SignalingError
from voicedesk.media.sources import ToneTrack
from voicedesk.rtc.call import Call

KEY = "sk-test-0123456789"


def realtime_stub(agent_offer_url: str, hangups: list[tuple[str, str]]) -> StubServer:
    async def create(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            error = {"message": "Incorrect API key provided: sk-wr***", "type": "invalid_request_error"}
            return web.json_response({"error": {**error, "code": "invalid_api_key"}}, status=401)
        if request.content_type != "application/sdp":
            return web.json_response({"error": {"message": "expected application/sdp"}}, status=400)
        offer = await request.text()
        async with (
            aiohttp.ClientSession() as http,
            http.post(agent_offer_url, json={"sdp": offer, "type": "offer"}) as r,
        ):
            answer = (await r.json())["sdp"]
        return web.Response(
            status=201, text=answer, content_type="application/sdp", headers={"Location": "/v1/realtime/calls/rtc_t1"}
        )

    async def hangup(request: web.Request) -> web.Response:
        hangups.append((request.match_info["call_id"], request.headers.get("Authorization", "")))
        return web.Response(status=200)

    return StubServer({("POST", "/v1/realtime/calls"): create, ("POST", "/v1/realtime/calls/{call_id}/hangup"): hangup})


async def test_openai_shape_call_and_hangup():
    hangups: list[tuple[str, str]] = []
    async with running_server("echo") as server:
        with realtime_stub(server.offer_url, hangups) as stub:
            url = f"openai+{stub.url}/v1/realtime/calls?model=gpt-realtime"
            call = Call(url, source=ToneTrack(820), headers={"Authorization": f"Bearer {KEY}"})
            await call.start()
            await asyncio.sleep(1.5)
            await call.hangup()
    assert abs(call.rx.peak_hz() - 820) < 5
    assert hangups == [("rtc_t1", f"Bearer {KEY}")]
    exchanges = call.signaling.exchanges
    assert [(e.method, e.status) for e in exchanges] == [("POST", 201), ("POST", 200)]
    assert exchanges[1].url == f"{stub.url}/v1/realtime/calls/rtc_t1/hangup"
    assert KEY not in repr(exchanges)


async def test_key_from_the_environment(monkeypatch):
    hangups: list[tuple[str, str]] = []
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    async with running_server("echo") as server:
        with realtime_stub(server.offer_url, hangups) as stub:
            call = Call(f"openai+{stub.url}/v1/realtime/calls", source=ToneTrack(820))
            await call.start()
            await call.hangup()
    assert hangups == [("rtc_t1", f"Bearer {KEY}")]


def test_no_key_is_a_config_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="needs a key: -H 'Authorization: Bearer sk-…' or set OPENAI_API_KEY"):
        Call("openai+https://api.openai.com/v1/realtime/calls")


async def test_a_wrong_key_shows_the_api_error():
    async with running_server("echo") as server:
        with realtime_stub(server.offer_url, []) as stub:
            url = f"openai+{stub.url}/v1/realtime/calls"
            call = Call(url, source=ToneTrack(820), headers={"Authorization": "Bearer sk-wrong"})
            with pytest.raises(SignalingError) as info:
                await call.start()
    assert str(info.value) == (
        f"{stub.url}/v1/realtime/calls answered HTTP 401 Unauthorized: "
        "Incorrect API key provided: sk-wr*** (check the API key)"
    )
