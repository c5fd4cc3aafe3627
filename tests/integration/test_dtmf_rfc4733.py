"""RFC 4733 telephone-events from VoiceDesk's caller to VoiceDesk's own server (real
aiortc peers over UDP): negotiated in SDP, sent beside the audio, decoded by the server in
order with their durations, reported to the agent's event channel and in the summary."""

from __future__ import annotations

import asyncio
import logging

from aiortc import RTCPeerConnection

from tests.helpers.processes import voicedesk
from voicedesk.agent import registry
from voicedesk.agent.agents import ToneAgent
from voicedesk.agent.server import AgentServer
from voicedesk.media.sources import ToneTrack
from voicedesk.rtc.call import Call
from voicedesk.rtc.dtmf_sender import RTCDTMFSender, ToneChanged
from voicedesk.rtc.telephone_event import DtmfReceived
from voicedesk.tasks import TaskOwner


async def _until(predicate, seconds: float = 15.0) -> None:
    async with asyncio.timeout(seconds):
        while not predicate():  # noqa: ASYNC110 - polls state the packets change
            await asyncio.sleep(0.05)


async def test_keys_reach_the_embedded_server_in_order_with_their_durations(caplog) -> None:
    caplog.set_level(logging.INFO, logger="voicedesk.agent.server")
    call = Call("embedded:echo", source=ToneTrack(440))
    changes: list[str] = []
    call.add_listener(lambda e: changes.append(e.tone) if isinstance(e, ToneChanged) else None)
    try:
        await call.start()
        offered = [line for line in call.local_sdp.splitlines() if "telephone-event" in line]
        answered = [line for line in call.remote_sdp.splitlines() if "telephone-event" in line]
        assert offered == ["a=rtpmap:110 telephone-event/48000", "a=rtpmap:126 telephone-event/8000"]
        assert answered == offered  # VoiceDesk as the answerer accepts both
        assert call.dtmf is not None and call.dtmf.canInsertDTMF and call.dtmf.payload_type == 110

        sending = call.send_dtmf("159#", "rfc4733")
        assert sending.mode == "rfc4733"
        await _until(lambda: changes[-1:] == [""])
        # W3C names; the duration is the whole buffer's (a new insertDTMF replaces what is left)
        call.dtmf.insertDTMF("0", duration=1500, interToneGap=70)
        await _until(lambda: changes.count("") == 2)
        session = next(iter(call.signaling.sessions.sessions.values()))
        await _until(lambda: len(session.dtmf.events) == 5)
        events = session.dtmf.events
        assert "".join(e.tone for e in events) == "159#0"
        assert all(e.ended and e.volume == 10 for e in events)
        # Chrome's frames: 100 ms asked is 100 ms sent; 1500 ms needs two segments at 48 kHz
        assert [round(e.duration_ms) for e in events] == [100, 100, 100, 100, 1500]
        assert changes == ["1", "5", "9", "#", "", "0", ""]
        await call.sample_stats()
    finally:
        await call.hangup()
    lines = [r.getMessage().split(" ", 2)[2] for r in caplog.records if "DTMF" in r.getMessage()]
    assert lines[:5] == [
        f"received DTMF {key!r} ({ms} ms)" for key, ms in zip("159#0", [100] * 4 + [1500], strict=True)
    ]
    assert lines[5].endswith("0 live; received DTMF '159#0' (5 RFC 4733 events)")  # the session's close line
    summary = call.summary()
    # event packets took the audio's sequence numbers: nothing reads as lost
    assert summary["loss_pct"] == 0.0
    dtmf = summary["dtmf"]
    assert dtmf["sent"] == "159#" and dtmf["mode"] == "rfc4733" and dtmf["telephone_event"] == 110
    assert dtmf["event_packets_sent"] >= 5 * 4  # updates and three end packets per key


def test_cli_sends_events_the_agent_reports_back() -> None:
    result = voicedesk(
        "call", "embedded:parrot?vad=energy", "--source", "silence", "--dtmf", "27", "--dtmf-mode", "rfc4733",
        "--dtmf-delay", "0.3", "--duration", "3",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "[DTMF] sending '27' as RFC 4733 telephone-events" in result.stderr
    heard = [line.split("] ", 1)[1] for line in result.stderr.splitlines() if "agent heard DTMF" in line]
    assert heard == ["agent heard DTMF '2' (100.0 ms)", "agent heard DTMF '7' (100.0 ms)"]
    assert "dtmf           sent '27' as RFC 4733 events (payload type 110)" in result.stdout


async def test_a_scenario_presses_keys_and_waits_until_they_are_out() -> None:
    from voicedesk.qa.runner import run_scenario
    from voicedesk.qa.scenario import parse_scenarios

    text = "target: embedded:echo\nsteps:\n  - dtmf: {tones: '4,', mode: rfc4733, gap_ms: 40}\n  - dtmf: '8'\n"
    [scenario] = parse_scenarios(text, "keys.yaml")
    result = await run_scenario(scenario)
    assert result.passed and result.error is None, result.to_json()
    dtmf = result.summary["dtmf"]
    assert dtmf["sent"] == "4,8" and dtmf["mode"] == "rfc4733"  # auto chose events: the echo accepted them
    assert result.duration_s > 2.0  # the comma's 2 s were waited for, not skipped


class _PressingToneAgent(ToneAgent):
    """The tone agent, pressing keys with VoiceDesk's RTCDTMFSender once connected (as the answerer)."""

    name = "pressing-tone"

    def attach(self, pc: RTCPeerConnection) -> None:
        super().attach(pc)
        self.tasks = TaskOwner("pressing agent")

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "connected":
                self.tasks.spawn(self._press(pc), "press")

    async def _press(self, pc: RTCPeerConnection) -> None:
        await asyncio.sleep(0.3)
        transceiver = next(t for t in pc.getTransceivers() if t.kind == "audio")
        RTCDTMFSender.attach(transceiver.sender, transceiver._codecs, lambda: 0.0).insertDTMF("A0", 160, 60)

    async def close(self) -> None:
        await self.tasks.cancel_all()
        await super().close()


async def test_the_caller_decodes_keys_its_peer_sends(monkeypatch) -> None:
    monkeypatch.setitem(registry._AGENTS, _PressingToneAgent.name, _PressingToneAgent)
    server = AgentServer(agent=_PressingToneAgent.name, host="127.0.0.1", port=0)
    await server.start()
    received: list[DtmfReceived] = []
    try:
        call = Call(server.offer_url, source=ToneTrack(700))
        call.add_listener(lambda e: received.append(e) if isinstance(e, DtmfReceived) else None)
        try:
            await call.start()
            await _until(lambda: len(received) == 2)
        finally:
            await call.hangup()
    finally:
        await server.stop()
    assert [(e.tone, e.duration_ms, e.ended) for e in received] == [("A", 160.0, True), ("0", 160.0, True)]
    dtmf = call.summary()["dtmf"]
    assert dtmf["received"] == "A0" and dtmf["sent"] == ""
    assert [e["duration_ms"] for e in dtmf["received_events"]] == [160.0, 160.0]
