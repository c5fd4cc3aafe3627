"""TURN over TLS (``turns:``) against a real coturn with a self-signed certificate."""

from __future__ import annotations

import json

import pytest

from tests.helpers.processes import voicedesk
from tests.helpers.turn import Coturn, coturn_tls  # noqa: F401 - fixture
from voicedesk.config import IceConfig
from voicedesk.media.sources import ToneTrack
from voicedesk.rtc.call import Call

pytestmark = pytest.mark.e2e


def test_untrusted_certificate_is_named_and_a_trusted_one_allocates(coturn_tls: Coturn, tmp_path):  # noqa: F811
    config = tmp_path / "tls.json"
    config.write_text(json.dumps({"iceServers": [coturn_tls.ice_server("tls")]}))
    result = voicedesk(
        "ice", "probe", "--ice", str(config), "--json", "--no-rtt", env={"SSL_CERT_FILE": "/nonexistent"}
    )
    assert result.returncode == 1
    server = json.loads(result.stdout)["servers"][0]
    assert server["transport"] == "TLS"
    assert server["verdict"].startswith(f"TLS handshake with TURN server at 127.0.0.1:{coturn_tls.tls_port} failed: ")
    assert "CERTIFICATE_VERIFY_FAILED" in server["verdict"]

    result = voicedesk("ice", "probe", "--ice", str(config), "--json", env={"SSL_CERT_FILE": str(coturn_tls.ca_file)})
    assert result.returncode == 0, result.stdout
    out = json.loads(result.stdout)
    assert out["servers"][0]["verdict"].startswith("TURN allocated a relay at 127.0.0.1:")
    assert out["servers"][0]["rtt_samples"] >= 3
    assert any(c["type"] == "relay" and c["server"] == coturn_tls.url("tls") for c in out["candidates"])


async def test_relay_only_call_over_tls(coturn_tls: Coturn, monkeypatch):  # noqa: F811
    monkeypatch.setenv("SSL_CERT_FILE", str(coturn_tls.ca_file))  # aioice verifies with the default context
    ice = IceConfig.from_json({"iceServers": [coturn_tls.ice_server("tls")], "iceTransportPolicy": "relay"})
    summary = await Call("embedded:echo", source=ToneTrack(1000), ice=ice, timeout=20).run(duration=2.0)
    assert summary["state"] == "connected", summary["reason"]
    assert summary["path"] == "relay" and summary["turn_used"]
    assert abs(summary["rx_peak_hz"] - 1000) <= 5
