"""A local server in the shape of OpenAI's Realtime WebRTC API, with its events channel.

POST ``/v1/realtime/calls`` (``application/sdp``, bearer key) is answered by an aiortc peer
of its own that echoes the caller's audio and, on the ``oai-events`` data channel the
caller opened, plays a script of server events once the caller's first client event
arrives (or the channel has been open for a second): what a Realtime session reports
for one spoken turn with a function call, plus messages a client must survive (an
unknown type, broken JSON, one over 64 KiB). A ``response.create`` from the caller is
answered with one more transcript. Client events are kept in ``received``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web
from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription

from tests.helpers.stub_server import StubServer

KEY = "sk-test-0123456789"

SCRIPT: list[dict[str, Any] | str] = [
    {"type": "session.created", "session": {"id": "sess_1", "model": "gpt-realtime"}},
    {"type": "input_audio_buffer.speech_started", "audio_start_ms": 1000, "item_id": "item_1"},
    {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 2400, "item_id": "item_1"},
    {"type": "input_audio_buffer.committed", "item_id": "item_1"},
    {"type": "output_audio_buffer.started", "response_id": "resp_1"},
    {"type": "response.output_audio_transcript.delta", "item_id": "item_2", "delta": "It is "},
    {"type": "response.output_audio_transcript.delta", "item_id": "item_2", "delta": "sunny."},
    {
        "type": "response.function_call_arguments.done",
        "call_id": "call_9",
        "name": "get_weather",
        "item_id": "item_3",
        "arguments": '{"city": "Paris", "unit": "celsius"}',
    },
    # OpenAI transcribes the caller while its answer already plays: the words come late
    {
        "type": "conversation.item.input_audio_transcription.completed",
        "item_id": "item_1",
        "transcript": "what is the weather in Paris",
    },
    {"type": "response.audio_transcript.done", "item_id": "item_2", "transcript": "It is sunny."},  # the beta name
    {"type": "output_audio_buffer.stopped", "response_id": "resp_1"},
    {"type": "response.brand_new_event", "surprise": True},
    "{not json",
    json.dumps({"type": "conversation.item.created", "item": {"padding": "a" * 70_000}}),
    {
        "type": "response.done",
        "response": {"status": "completed", "usage": {"total_tokens": 120, "input_tokens": 80, "output_tokens": 40}},
    },
    {"type": "error", "error": {"type": "invalid_request_error", "message": "Unknown parameter: 'session.bogus'."}},
]


class RealtimeServer(StubServer):
    def __init__(self, script: list[dict[str, Any] | str] | None = None) -> None:
        super().__init__({("POST", "/v1/realtime/calls"): self._create})
        self.script = SCRIPT if script is None else script
        self.received: list[dict[str, Any]] = []
        self._peers: list[RTCPeerConnection] = []
        self._started = False

    @property
    def calls_url(self) -> str:
        return f"{self.url}/v1/realtime/calls"

    async def _create(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return web.json_response({"error": {"message": "Incorrect API key provided"}}, status=401)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._peers.append(pc)
        pc.on("track", lambda track: pc.addTrack(track))  # echo, as aiortc's own server example does
        pc.on("datachannel", self._on_channel)
        await pc.setRemoteDescription(RTCSessionDescription(await request.text(), "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return web.Response(
            status=201,
            text=pc.localDescription.sdp,
            content_type="application/sdp",
            headers={"Location": "/v1/realtime/calls/rtc_t1"},
        )

    def _on_channel(self, channel: RTCDataChannel) -> None:
        if channel.label != "oai-events":
            return

        def on_message(message: str | bytes) -> None:
            event = json.loads(message)
            self.received.append(event)
            if not self._started:
                self._play(channel)
            if event.get("type") == "response.create":
                said = next(
                    (
                        e["item"]["content"][0]["text"]
                        for e in reversed(self.received)
                        if e["type"] == "conversation.item.create"
                    ),
                    "",
                )
                for reply in (
                    {"type": "output_audio_buffer.started", "response_id": "resp_2"},
                    {"type": "response.output_audio_transcript.done", "transcript": f"You wrote: {said}"},
                    {"type": "output_audio_buffer.stopped", "response_id": "resp_2"},
                ):
                    channel.send(json.dumps(reply))

        channel.on("message", on_message)
        asyncio.get_running_loop().call_later(1.0, lambda: self._play(channel) if not self._started else None)

    def _play(self, channel: RTCDataChannel) -> None:
        self._started = True
        for item in self.script:
            channel.send(item if isinstance(item, str) else json.dumps(item))

    async def _stop(self) -> None:
        for pc in self._peers:
            await pc.close()
        await super()._stop()
