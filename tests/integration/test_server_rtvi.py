"""The agent server speaks RTVI (pipecat's client protocol) to a caller that speaks it.

The caller is a plain aiortc peer shaped as pipecat's small-webrtc client is: an audio
transceiver, a data channel named ``chat`` opened before the offer, the offer POSTed as
JSON to ``/api/offer``, then ``client-ready``. Its microphone is a WAV of a question
spoken by espeak-ng; the server runs the real voice agent (webrtcvad, pocketsphinx,
the rules responder, espeak-ng) behind real HTTP.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiortc import RTCDataChannel, RTCSessionDescription

from tests.helpers.calls import offline_peer, running_server
from tests.helpers.speech import spoken_wav
from voicedesk.agent.rtvi import LABEL
from voicedesk.media.sources import WavTrack

pytestmark = pytest.mark.timeout(180)

WEATHER = "The weather is sunny and warm today."
TIME = "It is time to test your voice agent."


class RtviCaller:
    """What arrives on the channel, by type, with a wait for a condition on it."""

    def __init__(self, channel: RTCDataChannel) -> None:
        self.channel = channel
        self.messages: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._changed = asyncio.Event()
        channel.on("message", self._on_message)

    def _on_message(self, message: str | bytes) -> None:
        self.raw.append(message if isinstance(message, str) else message.decode())
        self.messages.append(json.loads(message))
        self._changed.set()

    def send(self, kind: str, data: Any = None, msg_id: str = "") -> None:
        self.channel.send(json.dumps({"label": LABEL, "type": kind, "id": msg_id, "data": data}))

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]

    async def wait_for(self, predicate: Callable[[], bool], within_s: float = 60.0) -> None:
        async def loop() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(loop(), within_s)
        except TimeoutError:
            pytest.fail(f"not within {within_s} s; received: {[m.get('type') for m in self.messages]}")


async def test_an_rtvi_client_sees_the_voice_agents_turns_and_can_type(tmp_path: Path) -> None:
    wav = spoken_wav(tmp_path / "question.wav", 0.5, "what is the weather today")
    async with running_server("voice") as server:
        pc = offline_peer()
        pc.addTrack(WavTrack(wav))
        caller = RtviCaller(pc.createDataChannel("chat", ordered=True))  # client-js's label
        opened = asyncio.Event()
        caller.channel.on("open", opened.set)
        await pc.setLocalDescription(await pc.createOffer())
        offer = {"sdp": pc.localDescription.sdp, "type": "offer", "pc_id": None, "restart_pc": False}
        async with aiohttp.ClientSession() as http, http.post(f"{server.base_url}/api/offer", json=offer) as r:
            assert r.status == 200, await r.text()
            answer = await r.json()
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        try:
            await asyncio.wait_for(opened.wait(), 30)
            session = server.sessions[answer["pc_id"]]
            # client-js's keep-alive and track status come first, and are no RTVI error
            caller.channel.send("ping: 1")
            caller.channel.send(json.dumps({"type": "signalling", "message": {"type": "trackStatus"}}))
            about = {"library": "voicedesk-test", "library_version": "1"}
            caller.send("client-ready", {"version": "2.1.0", "about": about}, "ready-1")
            await caller.wait_for(lambda: bool(caller.of_type("bot-ready")))
            ready = caller.of_type("bot-ready")[0]
            assert ready["id"] == "ready-1" and ready["label"] == LABEL
            assert ready["data"]["version"] == "2.2.0" and ready["data"]["about"]["agent"] == "voice"
            assert ready["data"]["capabilities"]["metrics"] is True

            # the spoken question: the caller's speech, its transcript, the agent's reply and metrics
            await caller.wait_for(lambda: bool(caller.of_type("metrics")), 90)
            kinds = [m["type"] for m in caller.messages]
            finals = [m["data"] for m in caller.of_type("user-transcription") if m["data"]["final"]]
            assert len(finals) == 1 and "weather" in finals[0]["text"], finals
            assert finals[0]["user_id"] == answer["pc_id"] and finals[0]["timestamp"].endswith("+00:00")
            said = [m["data"] for m in caller.of_type("user-input") if m["data"]["final"]]
            assert said and said[0]["input_type"] == "transcription" and said[0]["text"] == finals[0]["text"]
            assert [m["data"]["text"] for m in caller.of_type("bot-transcription")] == [WEATHER]
            assert [m["data"]["text"] for m in caller.of_type("bot-output")] == [WEATHER]
            # in the order pipecat sends them (partial transcripts may come while the caller speaks)
            final_at = next(
                i for i, m in enumerate(caller.messages) if m["type"] == "user-transcription" and m["data"]["final"]
            )
            kinds[final_at] = "final user-transcription"
            order = [
                "user-started-speaking",
                "user-stopped-speaking",
                "final user-transcription",
                "bot-llm-started",
                "bot-started-speaking",
                "bot-output",
                "bot-stopped-speaking",
                "metrics",
            ]
            positions = [kinds.index(kind) for kind in order]
            assert positions == sorted(positions), kinds
            metrics = caller.of_type("metrics")[0]["data"]
            stages = {m["processor"]: m["value"] for part in metrics.values() for m in part}
            assert set(stages) >= {"ResponderProcessor", "TTSProcessor", "STTProcessor", "VADProcessor"}, metrics
            assert all(0 <= v < 30 for v in stages.values()), metrics  # seconds, as pipecat reports them

            # typed text: answered by the responder, reported as chat input with the client's id
            caller.send("send-text", {"content": "what time is it", "options": {"run_immediately": True}}, "text-1")
            await caller.wait_for(lambda: TIME in [m["data"]["text"] for m in caller.of_type("bot-transcription")])
            chat = [m["data"] for m in caller.of_type("user-input") if m["data"]["input_type"] == "chat"]
            assert (
                chat == [{**chat[0], "text": "what time is it", "msg_id": "text-1", "final": True}]
                and chat[0]["user_id"] == answer["pc_id"]
            ), chat

            # a client request the server answers, and ones it refuses in words
            caller.send("client-message", {"t": "turns", "d": {}}, "turns-1")
            caller.send("client-message", {"t": "weather-please", "d": {}}, "nope-1")
            caller.send("llm-function-call-result", {"function_name": "x"}, "nope-2")
            caller.send("send-text", {"text": "no content field"}, "nope-3")
            await caller.wait_for(
                lambda: len(caller.of_type("error-response")) >= 3 and caller.of_type("server-response")
            )
            response = caller.of_type("server-response")[0]
            assert response["id"] == "turns-1" and response["data"]["t"] == "turns"
            assert [t["response"] for t in response["data"]["d"]][:1] == [WEATHER], response
            errors = {m["id"]: m["data"]["error"] for m in caller.of_type("error-response")}
            assert 'does not answer client-message "weather-please"' in errors["nope-1"], errors
            assert "does not handle RTVI 'llm-function-call-result'" in errors["nope-2"], errors
            assert "content" in errors["nope-3"], errors

            # bad input is counted, never fatal: not JSON, over 64 KiB, not RTVI, no type
            for bad in ("{not json", "x" * (70 * 1024), json.dumps({"hello": 1}), json.dumps({"label": LABEL})):
                caller.channel.send(bad)
            caller.send("client-message", {"t": "turns"}, "turns-2")
            await caller.wait_for(lambda: len(caller.of_type("server-response")) >= 2)
            assert session.rtvi is not None and session.rtvi.dropped == 4
            assert caller.of_type("error") and "without a string type" in caller.of_type("error")[0]["data"]["error"]
            assert all(m["label"] == LABEL for m in caller.messages)

            # disconnect-bot ends the session on the server (its agent first, then its connection)
            caller.send("disconnect-bot", {}, "bye-1")
            for _ in range(150):
                if session.pc.connectionState == "closed":
                    break
                await asyncio.sleep(0.1)
            assert answer["pc_id"] not in server.sessions and session.pc.connectionState == "closed"
        finally:
            await pc.close()


async def test_an_agent_without_turns_still_says_bot_ready_and_refuses_text() -> None:
    async with running_server("echo") as server:
        pc = offline_peer()
        pc.addTransceiver("audio")
        caller = RtviCaller(pc.createDataChannel("chat"))
        opened = asyncio.Event()
        caller.channel.on("open", opened.set)
        await pc.setLocalDescription(await pc.createOffer())
        offer = {"sdp": pc.localDescription.sdp, "type": "offer"}
        async with aiohttp.ClientSession() as http, http.post(f"{server.base_url}/api/offer", json=offer) as r:
            answer = await r.json()
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        try:
            await asyncio.wait_for(opened.wait(), 30)
            caller.send("client-ready", {"version": "2.2.0", "about": {"library": "t"}}, "r")
            caller.send("send-text", {"content": "hello"}, "t")
            await caller.wait_for(lambda: bool(caller.of_type("bot-ready") and caller.of_type("error-response")))
            ready = caller.of_type("bot-ready")[0]["data"]
            assert ready["about"]["agent"] == "echo" and ready["capabilities"]["metrics"] is False
            refusal = caller.of_type("error-response")[0]
            assert refusal["id"] == "t" and "the echo agent does not take text" in refusal["data"]["error"]
        finally:
            await pc.close()
