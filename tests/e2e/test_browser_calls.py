"""Headless Chromium calls the embedded agent from the server's own page at / (JSON and WHIP).

The browser's microphone plays a 1000 Hz WAV; the agent sends a 440 Hz tone and listens.
The page measures what arrives with WebAudio and POSTs its numbers and Chrome's getStats
back; the server side checks the browser's tone arrived."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import pytest
from aiohttp import web
from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from tests.helpers.chromium import running_chromium, write_tone_wav
from voicedesk.agent import agents, registry
from voicedesk.agent.server import AgentServer
from voicedesk.media.sinks import AnalyzerSink

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BROWSER_TONE = 1000.0
AGENT_TONE = 440.0


class ListeningToneAgent(agents.ToneAgent):
    """The tone agent, plus an ear: what the browser sends is kept for the test to check."""

    name = "listening-tone"
    ears: ClassVar[list[AnalyzerSink]] = []

    def attach(self, pc: RTCPeerConnection) -> None:
        super().attach(pc)
        self.ear = AnalyzerSink()
        ListeningToneAgent.ears.append(self.ear)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                self.ear.addTrack(track)
                self.ear.start_reading()

    async def close(self) -> None:
        await self.ear.stop()
        await super().close()


@pytest.fixture
async def ear_server(monkeypatch) -> AsyncIterator[tuple[AgentServer, asyncio.Queue, list]]:
    # an agent of the test's own, registered as a user's would be
    monkeypatch.setitem(registry._AGENTS, ListeningToneAgent.name, ListeningToneAgent)
    ListeningToneAgent.ears = []
    reports: asyncio.Queue = asyncio.Queue()
    requests: list[tuple[str, str, int]] = []

    async def report(request: web.Request) -> web.Response:
        data = await request.json()
        # what the agent heard, taken now: the call is still up (the page hangs up after this)
        ears = ListeningToneAgent.ears
        data["server_heard_hz"] = ears[-1].peak_hz() if ears else None
        data["server_frames"] = ears[-1].frames if ears else 0
        data["server_level_dbfs"] = ears[-1].level_dbfs() if ears else None
        await reports.put(data)
        return web.json_response({"ok": True})

    @web.middleware
    async def remember(request: web.Request, handler):
        response = await handler(request)
        requests.append((request.method, request.path, response.status))
        return response

    server = AgentServer(agent=ListeningToneAgent.name, host="127.0.0.1", port=0)
    server.app.router.add_post("/test/report", report)
    server.app.middlewares.append(remember)
    await server.start()
    try:
        yield server, reports, requests
    finally:
        await server.stop()


async def browser_call(server: AgentServer, reports: asyncio.Queue, mode: str, tmp_path: Path) -> dict:
    wav = write_tone_wav(tmp_path / "mic.wav", BROWSER_TONE)
    # raw=1: Chrome's noise suppression and echo canceller fade a steady test tone out
    url = f"{server.base_url}/?call={mode}&raw=1&seconds=4&report=/test/report"
    with running_chromium(url, tmp_path, fake_audio=wav) as chromium:
        try:
            report = await asyncio.wait_for(reports.get(), 60)
        except TimeoutError:
            pytest.fail(f"the page did not report within 60 s; chromium log:\n{chromium.log_text()[-3000:]}")
        # the page hangs up after reporting; give it the moment it needs while it still runs
        for _ in range(50):
            if not server.sessions:
                break
            await asyncio.sleep(0.1)
    return report


def check_both_ways(report: dict) -> None:
    assert report["error"] is None, report["error"]
    assert report["ok"] and report["connection_state"] == "connected"
    assert report["peak_hz"] is not None and abs(report["peak_hz"] - AGENT_TONE) < 15  # FFT bins are 5.9 Hz
    assert report["level_dbfs"] > -40
    inbound = [s for s in report["stats"] if s["type"] == "inbound-rtp" and s.get("kind") == "audio"]
    assert inbound and inbound[0]["packetsReceived"] > 50
    assert len(ListeningToneAgent.ears) == 1 and report["server_frames"] > 50
    heard = report["server_heard_hz"]
    # the browser's fake microphone reached the agent
    source = [s for s in report["stats"] if s["type"] == "media-source"]
    why = repr(({k: v for k, v in report.items() if k != "stats"}, source))
    assert heard is not None and abs(heard - BROWSER_TONE) < 5, why


def keep_fixture(name: str, report: dict) -> None:
    """Chrome's own getStats, kept for the stats code (rewritten with VOICEDESK_UPDATE_FIXTURES=1)."""
    path = FIXTURES / name
    if os.environ.get("VOICEDESK_UPDATE_FIXTURES") == "1" or not path.exists():
        FIXTURES.mkdir(exist_ok=True)
        path.write_text(json.dumps(report["stats"], indent=1, sort_keys=True) + "\n")


async def test_browser_calls_the_agent_over_json(ear_server, tmp_path):
    server, reports, requests = ear_server
    report = await browser_call(server, reports, "json", tmp_path)
    check_both_ways(report)
    assert ("POST", "/api/voice/offer", 200) in requests
    assert server.sessions == {}
    keep_fixture("chrome_getstats.json", report)


async def test_browser_calls_the_agent_over_whip(ear_server, tmp_path):
    server, reports, requests = ear_server
    report = await browser_call(server, reports, "whip", tmp_path)
    check_both_ways(report)
    assert ("POST", "/whip", 201) in requests
    deletes = [r for r in requests if r[0] == "DELETE"]
    assert len(deletes) == 1 and deletes[0][1].startswith("/whip/sessions/") and deletes[0][2] == 200
    assert server.sessions == {}
    keep_fixture("chrome_getstats_whip.json", report)
