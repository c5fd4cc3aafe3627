"""A report bundle of a relay-only call through a real coturn to a real server with a bearer token:
the TURN credential and the token never reach the bundle, even at -vvv; --mask hides the addresses."""

from __future__ import annotations

import json
import zipfile

from tests.helpers.processes import serve, voicedesk
from tests.helpers.turn import PASSWORD, Coturn, coturn  # noqa: F401 - fixture

TOKEN = "tok-Qx81-bearer-secret"


def test_turn_credentials_and_addresses_stay_out_of_a_masked_bundle(coturn: Coturn, tmp_path):  # noqa: F811
    ice = tmp_path / "ice.json"
    ice.write_text(json.dumps({"iceServers": [coturn.ice_server("udp")], "iceTransportPolicy": "relay"}))
    bundle = tmp_path / "turn-call.zip"
    with serve("--agent", "echo", "--token", TOKEN) as (base_url, _):
        done = voicedesk(
            "-vvv",
            "call",
            f"{base_url}/api/voice/offer",
            "-H",
            f"Authorization: Bearer {TOKEN}",
            "--ice",
            str(ice),
            "--duration",
            "2",
            "--report",
            str(bundle),
            "--mask",
            timeout=90,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    with zipfile.ZipFile(bundle) as archive:
        texts = {n: archive.read(n).decode() for n in archive.namelist() if not n.endswith(".wav")}
    summary = json.loads(texts["summary.json"])
    assert summary["turn_used"] is True and summary["path"] == "relay"
    # the bundle tells the story: relay candidates, the TURN server, a debug log
    assert "typ relay" in texts["offer.sdp"]
    assert "aioice.turn" in texts["call.log"]  # -vvv: the TURN client's own lines are in the log too
    ice_config = json.loads(texts["ice_config.json"])
    assert ice_config["iceServers"][0]["credential"] == "***" and ice_config["iceServers"][0]["username"] == "vd"
    for name, text in texts.items():
        assert PASSWORD not in text, name
        assert TOKEN not in text, name
        assert "127.0.0.1" not in text, name  # --mask: the relay and host addresses are ip-N
    assert "turn:ip-1" in texts["ice_config.json"]
