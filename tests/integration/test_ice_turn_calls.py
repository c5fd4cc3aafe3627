"""Relay-only calls through a real coturn on loopback, and what the call tells about its ICE path."""

from __future__ import annotations

import json

import pytest

from tests.helpers.net import free_port
from tests.helpers.processes import voicedesk
from tests.helpers.turn import SECRET, Coturn, coturn, coturn_secret  # noqa: F401 - fixtures
from voicedesk.config import IceConfig
from voicedesk.errors import IceError
from voicedesk.media.sources import ToneTrack
from voicedesk.rtc.call import Call, candidates_in
from voicedesk.rtc.turn_credentials import mint

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_relay_only_call_to_the_echo_agent_carries_the_tone(coturn: Coturn, transport: str):  # noqa: F811
    ice = IceConfig.from_json({"iceServers": [coturn.ice_server(transport)], "iceTransportPolicy": "relay"})
    call = Call("embedded:echo", source=ToneTrack(1000), ice=ice, timeout=20)
    summary = await call.run(duration=2.5)
    assert summary["state"] == "connected", summary["reason"]
    assert summary["rx_peak_hz"] is not None and abs(summary["rx_peak_hz"] - 1000) <= 5
    # the offer held only relay candidates, all on coturn's relay address
    offered = candidates_in(call.local_sdp)
    assert offered and all(c.startswith("relay udp 127.0.0.1:") for c in offered), offered
    # and the call says it went through TURN
    assert summary["path"] == "relay" and summary["turn_used"] is True
    assert summary["selected_pair"].startswith("relay udp 127.0.0.1:")
    snap = call.ice_monitor.snapshot()
    assert snap.selected is not None and snap.selected.state == "succeeded"
    assert any(state == "succeeded" for _, state in snap.selected.history)
    assert [c.type for c in snap.local_candidates] == ["relay"] * len(snap.local_candidates)
    states = [(e.what, e.state) for e in snap.timeline]
    assert ("iceConnectionState", "checking") in states and ("connectionState", "connected") in states
    times = [e.ms for e in snap.timeline]
    assert times == sorted(times)


async def test_direct_call_says_it_did_not_use_turn(coturn: Coturn):  # noqa: F811
    ice = IceConfig.from_json({"iceServers": [coturn.ice_server("udp")]})
    summary = await Call("embedded:echo", source=ToneTrack(700), ice=ice, timeout=20).run(duration=1.5)
    assert summary["state"] == "connected", summary["reason"]
    # both sides have host candidates on 10.99.0.1: the host pair wins over the relay
    assert summary["path"] == "host" and summary["turn_used"] is False


async def test_relay_only_call_with_a_wrong_password_says_the_credentials_were_refused(coturn: Coturn):  # noqa: F811
    ice = IceConfig.from_json(
        {"iceServers": [coturn.ice_server("udp", credential="wrong")], "iceTransportPolicy": "relay"}
    )
    call = Call("embedded:echo", source=ToneTrack(1000), ice=ice, timeout=20)
    with pytest.raises(IceError) as info:
        await call.start()
    assert "relay-only call but no relay candidate was gathered: TURN refused the credentials" in str(info.value)
    assert call.state.value == "failed"


def test_cli_call_json_says_whether_turn_was_used(coturn: Coturn, tmp_path):  # noqa: F811
    config = tmp_path / "relay.json"
    config.write_text(json.dumps({"iceServers": [coturn.ice_server("tcp")]}))
    result = voicedesk(
        "-vvv",  # debug logs of aiortc/aioice too: the secret must not be in them
        "call",
        "embedded:echo",
        "--ice",
        str(config),
        "--relay-only",
        "--source",
        "tone:800",
        "--duration",
        "2",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["path"] == "relay" and summary["turn_used"] is True
    assert abs(summary["rx_peak_hz"] - 800) <= 5
    assert "vdpass" not in result.stdout + result.stderr


async def test_ephemeral_credentials_expired_refused_fresh_carry_a_relay_only_call(coturn_secret: Coturn):  # noqa: F811
    def relay_only(creds) -> IceConfig:
        server = coturn_secret.ice_server("udp", creds.username, creds.credential)
        return IceConfig.from_json({"iceServers": [server], "iceTransportPolicy": "relay"})

    expired = Call("embedded:echo", source=ToneTrack(600), ice=relay_only(mint(SECRET, "alice", ttl=-30)), timeout=20)
    with pytest.raises(IceError) as info:
        await expired.start()
    assert "TURN refused the credentials" in str(info.value) and "expired" in str(info.value)

    fresh = Call("embedded:echo", source=ToneTrack(600), ice=relay_only(mint(SECRET, "alice", ttl=600)), timeout=20)
    summary = await fresh.run(duration=2.0)
    assert summary["state"] == "connected", summary["reason"]
    assert summary["turn_used"] and abs(summary["rx_peak_hz"] - 600) <= 5


async def test_relay_only_call_to_a_dead_turn_port_says_no_answer():
    port = free_port()
    server = {"urls": f"turn:127.0.0.1:{port}", "username": "u", "credential": "p"}
    ice = IceConfig.from_json({"iceServers": [server], "iceTransportPolicy": "relay"})
    with pytest.raises(IceError) as info:
        await Call("embedded:echo", source=ToneTrack(600), ice=ice, timeout=20).start()
    assert str(info.value).startswith(
        f"relay-only call but no relay candidate was gathered: no answer from TURN server at 127.0.0.1:{port} after "
    )
