"""RFC 4733 DTMF with a real browser, both ways, in one headless Chromium call.

The page calls VoiceDesk's agent server (VoiceDesk answers Chrome's offer, which carries
telephone-event/48000 and /8000) and presses keys with Chrome's own
``RTCRtpSender.dtmf.insertDTMF``: the server must decode them in order with their
durations. The other way, the test's agent presses keys with VoiceDesk's
``RTCDTMFSender``; Chrome's receiver (NetEq) plays received telephone-events out as
tones, so the page records what it plays and the test finds the keys in it with the
same Goertzel detector the in-band tests use.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from aiohttp import web
from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamTrack

from tests.helpers.chromium import running_chromium, write_tone_wav
from voicedesk.agent import registry
from voicedesk.agent.server import AgentServer
from voicedesk.media.dtmf import detect_dtmf
from voicedesk.media.sources import SilenceTrack
from voicedesk.rtc.dtmf_sender import RTCDTMFSender
from voicedesk.rtc.telephone_event import DtmfReceived
from voicedesk.tasks import TaskOwner

pytestmark = pytest.mark.e2e

BROWSER_KEYS = "123#"  # Chrome -> VoiceDesk
AGENT_KEYS = "9*"  # VoiceDesk -> Chrome

PAGE = """<!doctype html><html><body><script>
const report = {error: null, canInsertDTMF: null, tonechanges: [], offer: null, rate: null, audio: null};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  let pc;
  try {
    const stream = await navigator.mediaDevices.getUserMedia({audio: true});
    pc = new RTCPeerConnection();
    const sender = pc.addTrack(stream.getAudioTracks()[0], stream);
    const remote = new Promise((r) => { pc.ontrack = (e) => r(e.streams[0] || new MediaStream([e.track])); });
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise((r) => { if (pc.iceGatheringState === "complete") r();
      pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && r(); });
    report.offer = pc.localDescription.sdp;
    const answer = await (await fetch("/api/offer", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({sdp: pc.localDescription.sdp, type: "offer"})})).json();
    await pc.setRemoteDescription(answer);
    const stream2 = await remote;
    const el = new Audio(); el.muted = true; el.srcObject = stream2; el.play().catch(() => {});
    const ctx = new AudioContext();
    report.rate = ctx.sampleRate;
    const chunks = [];
    const tap = ctx.createScriptProcessor(4096, 1, 1);
    tap.onaudioprocess = (e) => chunks.push(new Float32Array(e.inputBuffer.getChannelData(0)));
    ctx.createMediaStreamSource(stream2).connect(tap);
    tap.connect(ctx.destination);
    for (let i = 0; i < 100 && pc.connectionState !== "connected"; i++) await sleep(100);
    report.canInsertDTMF = sender.dtmf.canInsertDTMF;
    const done = new Promise((r) => { sender.dtmf.ontonechange = (e) => {
      report.tonechanges.push(e.tone); if (e.tone === "") r(); }; });
    await sleep(300);
    sender.dtmf.insertDTMF("KEYS", 100, 70);
    await Promise.race([done, sleep(8000)]);
    await sleep(3500);  // the agent's keys come 1.5 s after connecting
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const pcm = new Int16Array(total);
    let at = 0;
    for (const c of chunks) { for (let i = 0; i < c.length; i++) pcm[at++] = Math.max(-1, Math.min(1, c[i])) * 32767; }
    let bin = ""; const bytes = new Uint8Array(pcm.buffer);
    for (let i = 0; i < bytes.length; i += 8192) bin += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
    report.audio = btoa(bin);
  } catch (e) { report.error = String(e); }
  await fetch("/test/report", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify(report)});
  if (pc) pc.close();
})();
</script></body></html>""".replace("KEYS", BROWSER_KEYS)


class KeypadAgent(registry.Agent):
    """Sends silence, presses ``AGENT_KEYS`` 1.5 s after connecting (VoiceDesk's
    RTCDTMFSender, as the answerer) and keeps the keys it is sent."""

    name = "keypad-test"
    heard: ClassVar[list[DtmfReceived]] = []
    can_insert: ClassVar[list[bool]] = []

    def attach(self, pc: RTCPeerConnection) -> None:
        self.track = SilenceTrack()
        self.tasks = TaskOwner("keypad agent")

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio":
                pc.addTrack(self.track)

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "connected":
                self.tasks.spawn(self._press(pc), "press keys")

    async def _press(self, pc: RTCPeerConnection) -> None:
        await asyncio.sleep(1.5)
        transceiver = next(t for t in pc.getTransceivers() if t.kind == "audio")
        dtmf = RTCDTMFSender.attach(transceiver.sender, transceiver._codecs, lambda: 0.0)
        KeypadAgent.can_insert.append(dtmf.canInsertDTMF)
        dtmf.insertDTMF(AGENT_KEYS, 120, 80)

    def dtmf_received(self, event: DtmfReceived) -> None:
        KeypadAgent.heard.append(event)

    async def close(self) -> None:
        await self.tasks.cancel_all()
        self.track.stop()


@pytest.fixture
async def keypad_server(monkeypatch) -> AsyncIterator[tuple[AgentServer, asyncio.Queue]]:
    monkeypatch.setitem(registry._AGENTS, KeypadAgent.name, KeypadAgent)
    KeypadAgent.heard, KeypadAgent.can_insert = [], []
    reports: asyncio.Queue = asyncio.Queue()

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def report(request: web.Request) -> web.Response:
        big = request.clone(client_max_size=4 * 1024 * 1024)  # the page's recording; the server keeps 64 KiB
        await reports.put(await big.json())
        return web.json_response({"ok": True})

    server = AgentServer(agent=KeypadAgent.name, host="127.0.0.1", port=0)
    server.app.router.add_get("/test/dtmf", page)
    server.app.router.add_post("/test/report", report)
    await server.start()
    try:
        yield server, reports
    finally:
        await server.stop()


async def test_dtmf_both_ways_between_chrome_and_voicedesk(keypad_server, tmp_path: Path) -> None:
    server, reports = keypad_server
    wav = write_tone_wav(tmp_path / "mic.wav", 1000.0)
    with running_chromium(f"{server.base_url}/test/dtmf", tmp_path, fake_audio=wav) as chromium:
        try:
            report = await asyncio.wait_for(reports.get(), 60)
        except TimeoutError:
            pytest.fail(f"the page did not report within 60 s; chromium log:\n{chromium.log_text()[-3000:]}")
    assert report["error"] is None, report["error"]
    # what Chrome offered, and that VoiceDesk's answer let it send events
    assert "telephone-event/48000" in report["offer"] and "telephone-event/8000" in report["offer"]
    assert report["canInsertDTMF"] is True
    assert report["tonechanges"] == [*BROWSER_KEYS, ""]

    # Chrome -> VoiceDesk: decoded by the server, in order, with their durations
    heard = KeypadAgent.heard
    assert "".join(e.tone for e in heard) == BROWSER_KEYS, heard
    assert all(e.ended for e in heard)
    assert all(90 <= e.duration_ms <= 140 for e in heard), [e.duration_ms for e in heard]  # asked 100 ms

    # VoiceDesk -> Chrome: Chrome played the events out as tones
    assert KeypadAgent.can_insert == [True]
    pcm = np.frombuffer(base64.b64decode(report["audio"]), dtype="<i2").astype(np.float32) / 32767
    assert pcm.size > report["rate"] * 2
    assert detect_dtmf(pcm, rate=int(report["rate"])) == AGENT_KEYS
