"""The OpenAI-compatible responder against a real local HTTP server speaking that protocol."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from aiohttp import web

from tests.helpers.speech import recognize, spoken_wav
from tests.helpers.stub_server import StubServer
from voicedesk.agent.engines.llm_http import APOLOGY, LlmSettings, OpenAIChatResponder, settings_from
from voicedesk.media.sources import WavTrack
from voicedesk.rtc.call import Call
from voicedesk.rtc.events import AgentEventReceived

REQUESTS: list[dict] = []


def _chunk(text: str) -> bytes:
    data = {"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": text}}]}
    return f"data: {json.dumps(data)}\n\n".encode()


async def _record(request: web.Request) -> None:
    REQUESTS.append({"auth": request.headers.get("Authorization"), "body": await request.json()})


async def streamed(request: web.Request) -> web.StreamResponse:
    await _record(request)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b": keep-alive\n\n")
    await response.write(b'data: {"choices":[{"index":0,"delta":{"role":"assistant"}}]}\n\n')
    for piece in ("It is ", "raining ", "in the lab", "."):
        await response.write(_chunk(piece))
        await asyncio.sleep(0.02)
    await response.write(b"data: [DONE]\n\n")
    return response


async def failing(request: web.Request) -> web.Response:
    await _record(request)
    return web.json_response({"error": {"message": "model overloaded"}}, status=500)


async def stalling(request: web.Request) -> web.StreamResponse:
    await _record(request)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(_chunk("Let me think"))
    await asyncio.sleep(30)
    return response


async def error_in_stream(request: web.Request) -> web.StreamResponse:
    await _record(request)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b'data: {"error": {"message": "context length exceeded"}}\n\n')
    return response


@pytest.fixture(scope="module")
def llm_server():
    routes = {
        ("POST", "/ok/v1/chat/completions"): streamed,
        ("POST", "/fail/v1/chat/completions"): failing,
        ("POST", "/stall/v1/chat/completions"): stalling,
        ("POST", "/broken/v1/chat/completions"): error_in_stream,
    }
    with StubServer(routes) as server:
        yield server


async def collect(responder: OpenAIChatResponder, transcript: str) -> list[str]:
    return [chunk async for chunk in responder.respond(transcript)]


async def test_streamed_reply_arrives_in_chunks_with_key_and_history(llm_server: StubServer) -> None:
    REQUESTS.clear()
    responder = OpenAIChatResponder(LlmSettings(url=f"{llm_server.url}/ok/v1", model="tiny", api_key="sk-test"))
    await responder.start()
    try:
        chunks = await collect(responder, "what is the weather")
        await collect(responder, "and tomorrow")
    finally:
        await responder.close()
    assert chunks == ["It is ", "raining ", "in the lab", "."]
    assert responder.last_error is None
    first, second = REQUESTS
    assert first["auth"] == "Bearer sk-test"
    assert first["body"]["model"] == "tiny" and first["body"]["stream"] is True
    assert first["body"]["messages"][-1] == {"role": "user", "content": "what is the weather"}
    # the second request carries the first exchange
    assert {"role": "assistant", "content": "It is raining in the lab."} in second["body"]["messages"]


async def test_http_error_gives_the_apology_and_logs_why(llm_server: StubServer, caplog) -> None:
    responder = OpenAIChatResponder(LlmSettings(url=f"{llm_server.url}/fail/v1"))
    with caplog.at_level(logging.WARNING):
        chunks = await collect(responder, "hello")
    await responder.close()
    assert chunks == [APOLOGY]
    assert "HTTP 500" in (responder.last_error or "") and "model overloaded" in responder.last_error
    assert "HTTP 500" in caplog.text


async def test_stalled_stream_ends_in_the_apology(llm_server: StubServer) -> None:
    responder = OpenAIChatResponder(LlmSettings(url=f"{llm_server.url}/stall/v1", timeout=0.5))
    chunks = await collect(responder, "hello")
    await responder.close()
    assert chunks == ["Let me think", " " + APOLOGY]
    assert "stalled" in (responder.last_error or "")


async def test_error_event_inside_the_stream_and_refused_connection(llm_server: StubServer) -> None:
    responder = OpenAIChatResponder(LlmSettings(url=f"{llm_server.url}/broken/v1"))
    assert await collect(responder, "hello") == [APOLOGY]
    assert "context length exceeded" in (responder.last_error or "")
    await responder.close()
    from tests.helpers.net import free_port

    responder = OpenAIChatResponder(LlmSettings(url=f"http://127.0.0.1:{free_port()}/v1", timeout=2))
    assert await collect(responder, "hello") == [APOLOGY]
    assert responder.last_error
    await responder.close()


def test_settings_come_from_options_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICEDESK_LLM_URL", "http://env.example/v1")
    monkeypatch.setenv("VOICEDESK_LLM_API_KEY", "sk-env")
    settings = settings_from({"llm_model": "m1"})
    assert settings.endpoint == "http://env.example/v1/chat/completions"
    assert settings.api_key == "sk-env" and settings.model == "m1"
    assert "sk-env" not in repr(settings)  # the key stays out of logs
    assert settings_from({"llm_url": "http://x/v1/chat/completions"}).endpoint == "http://x/v1/chat/completions"


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("route", "expected"), [("ok", "raining"), ("fail", "sorry")])
async def test_voice_agent_speaks_the_endpoint_reply_or_the_apology(
    llm_server: StubServer, tmp_path: Path, route: str, expected: str
) -> None:
    wav = spoken_wav(tmp_path / "ask.wav", 0.8, "what is the weather today", 8.0)
    REQUESTS.clear()
    target = f"embedded:voice?responder=openai&llm_url={llm_server.url}/{route}/v1&llm_timeout=3&llm_key=sk-e2e"
    events: list[dict] = []
    got_turn = asyncio.Event()

    def on_event(event: object) -> None:
        if isinstance(event, AgentEventReceived):
            events.append(event.event)
            if event.type == "turn":
                got_turn.set()

    from tests.helpers.speech import CaptureSink

    rx = CaptureSink()
    call = Call(target, source=WavTrack(wav), sinks=[rx], timeout=30)
    call.add_listener(on_event)
    await call.start()
    try:
        await asyncio.wait_for(got_turn.wait(), 60)
    finally:
        await call.hangup()
    turn = next(e for e in events if e["type"] == "turn")
    assert expected in turn["response"].lower(), turn
    if route == "fail":
        assert any("HTTP 500" in e for e in turn["errors"]), turn
        assert any(e["type"] == "error" for e in events)
    else:
        assert turn["errors"] == []
    assert call.summary()["final_state"] == "ended"  # the call went on to a normal hang-up
    assert REQUESTS and REQUESTS[0]["auth"] == "Bearer sk-e2e"
    assert "sk-e2e" not in json.dumps(call.summary().to_json()) and "llm_key=***" in call.summary()["target"]
    assert rx.loud_times(), "the reply was not spoken"
    if route == "ok":
        heard = recognize(rx.audio())
        assert heard, "nothing recognizable came back"
