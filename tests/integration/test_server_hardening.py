"""The agent server against hostile input: JSON nested too deep, slow, partial and malformed requests.

Raw sockets go to 127.0.0.1 only; the server runs in the test's loop with short limits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time

import aiohttp
import pytest

from tests.helpers.calls import get_json, real_offer, running_server
from voicedesk.agent.http_limits import HttpLimits

DEEP = ("[" * 30_000 + "]" * 30_000).encode()  # 60 KB: under the 64 KiB body limit
QUICK = HttpLimits(idle_timeout=1.0, body_timeout=1.0)


async def send(method: str, url: str, body: bytes) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url, data=body, headers={"Content-Type": "application/json"}) as response,
    ):
        return response.status, await response.json(content_type=None)


# JSON nested too deep for Python's parser -----------------------------------------------
@pytest.mark.parametrize(("method", "path"), [("POST", "/api/voice/offer"), ("PATCH", "/api/offer")])
async def test_json_nested_30000_deep_is_a_400_with_a_reason(method, path):
    async with running_server("echo") as server:
        status, answer = await send(method, f"{server.base_url}{path}", DEEP)
        assert status == 400
        assert answer["error"] == "body is not valid JSON: nested too deep to parse"
        assert (await get_json(f"{server.base_url}/health"))["sessions"] == 0


async def test_json_nested_30000_deep_on_the_websocket_is_answered_with_an_error():
    async with running_server("echo") as server, aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{server.base_url}/ws") as ws:
            await ws.send_str(DEEP.decode())
            reply = await ws.receive_json(timeout=5)
            assert reply == {"type": "error", "error": "message is not valid JSON: nested too deep to parse"}
            # and the socket still carries a call
            await ws.send_json({"type": "offer", "sdp": await real_offer()})
            assert (await ws.receive_json(timeout=10))["type"] == "answer"


# slow and partial requests ----------------------------------------------------------------
async def closed_within(reader: asyncio.StreamReader, seconds: float) -> tuple[bytes, float]:
    """Everything the server sent until it closed, and when it closed (fails if it did not)."""
    started = time.monotonic()
    data = await asyncio.wait_for(reader.read(), seconds)
    return data, time.monotonic() - started


@pytest.mark.parametrize(
    "sent",
    [b"", b"GET /hea", b"POST /api/voice/offer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: app"],
    ids=["idle", "half a request line", "headers never finished"],
)
async def test_a_request_that_never_completes_is_closed_within_the_timeout(sent):
    async with running_server("echo", http_limits=QUICK) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(sent)
            data, after = await closed_within(reader, 5.0)
        finally:
            writer.close()
        assert data == b"" and after < 3.0


async def test_a_body_that_stops_is_answered_408_and_closed():
    async with running_server("echo", http_limits=QUICK) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(
                b"POST /api/voice/offer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b'Content-Length: 1000\r\n\r\n{"sdp": "v=0'
            )
            started = time.monotonic()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            assert time.monotonic() - started < 3.0
            length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
            body = await asyncio.wait_for(reader.readexactly(length), 1.0)
            # then aiohttp reads what may still come for up to 10 s (lingering) and closes
        finally:
            writer.close()
        assert head.startswith(b"HTTP/1.1 408"), head
        assert b"Connection: close" in head
        assert json.loads(body) == {"error": "the request body did not arrive within 1 s"}


async def test_connections_beyond_the_cap_are_refused_with_503():
    limits = HttpLimits(idle_timeout=30.0, max_connections=2)
    async with running_server("echo", http_limits=limits) as server:
        held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(2)]
        await asyncio.sleep(0.2)
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            data, _ = await closed_within(reader, 5.0)
        finally:
            writer.close()
        assert data.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        assert data.endswith(b'{"error": "server busy: too many open connections"}')
        for _, w in held:
            w.close()
        await asyncio.sleep(0.2)
        assert (await get_json(f"{server.base_url}/health"))["status"] == "ok"  # room again


# malformed HTTP: a correct 400 and one log line ------------------------------------------
MALFORMED = {
    "garbage request line": b"GET\r\n\r\n",
    "negative length": b"POST /api/voice/offer HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
    "length with chunked": (
        b"POST /api/voice/offer HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    ),
    "NUL in the path": b"GET /he\x00alth HTTP/1.1\r\nHost: a\r\n\r\n",
}


@pytest.mark.parametrize("request_bytes", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_http_is_a_400_logged_in_one_line(request_bytes, caplog):
    caplog.set_level(logging.DEBUG, logger="aiohttp.server")
    async with running_server("echo") as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(request_bytes)
            data, _ = await closed_within(reader, 5.0)
        finally:
            writer.close()
        await asyncio.sleep(0.1)
    assert re.match(rb"HTTP/1\.[01] 400 Bad Request\r\n", data), data[:80]  # aiohttp answers these in 1.0
    logged = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert len(logged) == 1, [r.getMessage() for r in logged]
    assert logged[0].exc_info is None and logged[0].levelno <= logging.WARNING
    assert "\n" not in logged[0].getMessage()
    assert logged[0].getMessage().startswith("malformed HTTP request from 127.0.0.1 answered 400: ")
