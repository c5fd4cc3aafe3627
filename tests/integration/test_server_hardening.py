"""The agent server against hostile input: JSON nested too deep."""

from __future__ import annotations

import aiohttp
import pytest

from tests.helpers.calls import get_json, real_offer, running_server

DEEP = ("[" * 30_000 + "]" * 30_000).encode()  # 60 KB: under the 64 KiB body limit


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
