"""A chatty RTVI peer: an aiortc answerer behind pipecat's offer endpoint (``POST /api/offer``).

It echoes the caller's audio and, once the caller sends ``client-ready`` on the ``chat``
data channel, answers ``bot-ready`` and then sends one RTVI message every ``interval``
seconds for as long as the call lasts: turns made of the caller's transcriptions,
speaking started/stopped, a function call with arguments and result, metrics, LLM token
deltas, TTS text, an error every third turn, an interruption every fifth turn, and a message type VoiceDesk does not
know. A ``send-text`` from the caller is answered at once with its words as
``user-transcription``. What a user of pipecat's console would see, as fast as a test asks.

In a test it runs on the test's loop (``async with ChattyRtviPeer() as peer``); the bench
runs it as a process of its own: ``python -m tests.helpers.rtvi_peer --interval 0.1``
prints ``listening on http://127.0.0.1:PORT`` and serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription

from voicedesk.tasks import TaskOwner

LABEL = "rtvi-ai"
UNKNOWN_TYPE = "x-chatty-unknown"
SAID = "what is the weather in Paris"
REPLY = "It is sunny in Paris."
TOOL = "get_weather"
TTFB_S = 0.32
AGENT_ERROR = "TTS quota exceeded"  # every third turn


def rtvi(kind: str, data: Any = None) -> dict[str, Any]:
    return {"label": LABEL, "type": kind, "data": data if data is not None else {}}


def turn_messages(n: int) -> list[dict[str, Any]]:
    """The messages of the ``n``-th turn, in the order pipecat's observer sends them."""
    call_id = f"call-{n}"
    messages = [
        rtvi("user-started-speaking"),
        rtvi("user-transcription", {"text": "what is the", "final": False, "user_id": "caller", "timestamp": ""}),
        rtvi("user-transcription", {"text": SAID, "final": True, "user_id": "caller", "timestamp": ""}),
        rtvi("user-stopped-speaking"),
        rtvi("llm-function-call-started", {"function_name": TOOL}),
        rtvi(
            "llm-function-call-in-progress",
            {"function_name": TOOL, "tool_call_id": call_id, "arguments": {"city": "Paris"}},
        ),
        rtvi(
            "llm-function-call-stopped",
            {"function_name": TOOL, "tool_call_id": call_id, "cancelled": False, "result": {"sky": "sunny"}},
        ),
        rtvi("metrics", {"ttfb": [{"processor": "LLM#0", "value": TTFB_S}]}),
        rtvi("bot-started-speaking"),
        rtvi("bot-llm-text", {"text": "It is "}),
        rtvi("bot-llm-text", {"text": "sunny in Paris."}),
        rtvi("bot-tts-text", {"text": REPLY}),
        rtvi(UNKNOWN_TYPE, {"turn": n}),
    ]
    if n % 3 == 0:
        messages.insert(8, rtvi("error", {"error": AGENT_ERROR, "fatal": False}))
    if n % 5 == 0:
        messages.append(rtvi("bot-interrupted"))
    messages.append(rtvi("bot-stopped-speaking"))
    return messages


def script() -> Iterator[dict[str, Any]]:
    n = 0
    while True:
        n += 1
        yield from turn_messages(n)


class ChattyRtviPeer:
    def __init__(self, interval: float = 0.1, host: str = "127.0.0.1", port: int = 0) -> None:
        self.interval = interval
        self.host = host
        self.port = port
        self.sent = 0  # RTVI messages sent, all calls together
        self.received: list[dict[str, Any]] = []  # the caller's RTVI messages (client-ready, send-text…)
        self._pcs: set[RTCPeerConnection] = set()
        self._tasks = TaskOwner("ChattyRtviPeer")
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def __aenter__(self) -> ChattyRtviPeer:
        app = web.Application()
        app.router.add_post("/api/offer", self._offer)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._tasks.cancel_all()
        for pc in list(self._pcs):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pc.close(), 5.0)
        if self._runner is not None:
            await self._runner.cleanup()

    async def _offer(self, request: web.Request) -> web.Response:
        body = await request.json()
        pc = RTCPeerConnection()
        self._pcs.add(pc)

        @pc.on("track")
        def on_track(track: Any) -> None:
            if track.kind == "audio":
                pc.addTrack(track)  # the echo: what the caller sends comes back

        @pc.on("datachannel")
        def on_datachannel(channel: Any) -> None:
            channel.on("message", lambda message: self._on_message(channel, message))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self._pcs.discard(pc)
                await pc.close()

        await pc.setRemoteDescription(RTCSessionDescription(body["sdp"], body["type"]))
        await pc.setLocalDescription(await pc.createAnswer())
        answer = pc.localDescription
        return web.json_response({"sdp": answer.sdp, "type": answer.type, "pc_id": f"chatty-{id(pc)}"})

    def _on_message(self, channel: Any, message: str | bytes) -> None:
        if isinstance(message, bytes) or message.startswith("ping"):
            return
        try:
            data = json.loads(message)
        except ValueError:
            return
        self.received.append(data)
        kind = data.get("type")
        if kind == "client-ready":
            self._send(channel, rtvi("bot-ready", {"version": "2.2.0", "about": {"library": "chatty"}}))
            self._tasks.spawn(self._chatter(channel), "chatter")
        elif kind == "send-text":
            words = (data.get("data") or {}).get("content", "")
            self._send(channel, rtvi("user-transcription", {"text": words, "final": True}))

    def _send(self, channel: Any, message: dict[str, Any]) -> None:
        if channel.readyState == "open":
            channel.send(json.dumps(message))
            self.sent += 1

    async def _chatter(self, channel: Any) -> None:
        for message in script():
            if channel.readyState != "open":
                return
            self._send(channel, message)
            await asyncio.sleep(self.interval)


async def _serve(interval: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with ChattyRtviPeer(interval) as peer:
        print(f"listening on {peer.url}", flush=True)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="A chatty RTVI peer (echo + RTVI messages)")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between RTVI messages")
    args = parser.parse_args()
    asyncio.run(_serve(args.interval))


if __name__ == "__main__":
    main()
