"""``voicedesk ice probe`` against a real coturn on loopback: verdicts a user can act on."""

from __future__ import annotations

import json
import socket
import time

import pytest

from tests.helpers.net import free_port
from tests.helpers.processes import voicedesk
from tests.helpers.turn import SECRET, Coturn, coturn, coturn_secret  # noqa: F401 - fixtures
from voicedesk.config import IceConfig
from voicedesk.rtc.ice_probe import probe
from voicedesk.rtc.stun import Outcome
from voicedesk.rtc.turn_credentials import mint

pytestmark = pytest.mark.e2e


def write(tmp_path, data: dict, name: str = "ice.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def probe_json(*args: str, timeout: float = 60) -> tuple[int, dict, str]:
    result = voicedesk("ice", "probe", "--json", *args, timeout=timeout)
    return result.returncode, json.loads(result.stdout), result.stderr


async def test_every_server_gets_a_verdict_and_candidates_carry_their_details(coturn: Coturn):  # noqa: F811
    config = IceConfig.from_json(
        {
            "iceServers": [
                {"urls": f"stun:127.0.0.1:{coturn.port}"},
                coturn.ice_server("udp"),
                coturn.ice_server("tcp"),  # aiortc would ignore this second TURN URL; the probe does not
            ]
        }
    )
    report = await probe(config)
    by_url = {v.url: v for v in report.verdicts}
    stun_v = by_url[f"stun:127.0.0.1:{coturn.port}"]
    assert stun_v.outcome == Outcome.ANSWERED and stun_v.text.startswith("STUN answered from ")
    for transport in ("udp", "tcp"):
        v = by_url[coturn.url(transport)]
        assert v.outcome == Outcome.ALLOCATED, v.text
        assert v.text.startswith("TURN allocated a relay at 127.0.0.1:")
        # the per-server measurement: datagrams went through the relay to a local echo and back
        assert v.rtt_samples >= 3 and v.rtt_ms is not None and 0 < v.rtt_ms < 1000
    assert by_url[coturn.url("udp")].used_by_aiortc and not by_url[coturn.url("tcp")].used_by_aiortc
    assert "aiortc uses only the first TURN server" in report.warnings[0]
    types = {c.type for c in report.candidates}
    assert {"host", "srflx", "relay"} <= types
    relays = [c for c in report.candidates if c.type == "relay"]
    assert {c.server for c in relays} == {coturn.url("udp"), coturn.url("tcp")}
    for c in report.candidates:
        assert c.protocol == "udp" and c.port > 0 and c.priority > 0 and c.ms >= 0
        assert (c.related_address is None) == (c.type == "host")
    assert report.ok and report.diagnosis == ("every server answered as configured",)


def test_wrong_password_is_refused_credentials(coturn: Coturn, tmp_path):  # noqa: F811
    config = write(tmp_path, {"iceServers": [coturn.ice_server("udp", credential="wrong")]})
    code, out, _ = probe_json("--ice", config)
    assert code == 1
    (server,) = out["servers"]
    assert server["outcome"] == "refused"
    assert server["verdict"].startswith("TURN refused the credentials (401 Unauthorized for user 'vd')")
    assert not [c for c in out["candidates"] if c["type"] == "relay"]
    assert "refused the credentials" in out["diagnosis"][0]
    # the secret is redacted in the report's copy of the configuration
    assert out["config"]["iceServers"][0]["credential"] == "***"
    assert "wrong" not in json.dumps(out)


def test_wrong_password_over_tcp_relay_only_human_output(coturn: Coturn, tmp_path):  # noqa: F811
    config = write(tmp_path, {"iceServers": [coturn.ice_server("tcp", credential="wrong")]})
    result = voicedesk("ice", "probe", "--ice", config, "--relay-only")
    assert result.returncode == 1
    assert f"{coturn.url('tcp')}: TURN refused the credentials" in result.stdout
    assert "diagnosis: relay-only calls will fail:" in result.stdout
    assert "(no candidates)" in result.stdout


def test_closed_port_is_no_answer(tmp_path):
    port = free_port()
    config = write(tmp_path, {"iceServers": [{"urls": f"turn:127.0.0.1:{port}", "username": "u", "credential": "p"}]})
    code, out, _ = probe_json("--ice", config)
    assert code == 1
    verdict = out["servers"][0]["verdict"]
    assert verdict.startswith(f"no answer from TURN server at 127.0.0.1:{port} after ")
    assert out["servers"][0]["elapsed_ms"] <= 5000


def test_silent_server_is_no_answer_within_the_default_timeout(tmp_path):
    # a UDP socket that reads and never answers: what a firewall that drops packets looks like
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        config = write(
            tmp_path, {"iceServers": [{"urls": f"turn:127.0.0.1:{port}", "username": "u", "credential": "p"}]}
        )
        started = time.monotonic()
        code, out, _ = probe_json("--ice", config, "--no-rtt")
        took = time.monotonic() - started
    assert code == 1
    server = out["servers"][0]
    assert server["outcome"] == "no_answer"
    assert server["verdict"].startswith(f"no answer from TURN server at 127.0.0.1:{port} after ")
    # it waited for the whole default timeout (5 s) and no longer than that plus start-up
    assert 4500 <= server["elapsed_ms"] <= 8000
    assert took < 5 + 20  # interpreter start-up on a loaded machine; the point is that it ends
    assert out["timeout_s"] == 5


def test_expired_ephemeral_credential_is_refused_and_a_fresh_one_works(coturn_secret: Coturn, tmp_path):  # noqa: F811
    expired = mint(SECRET, "alice", ttl=-60)
    config = write(tmp_path, {"iceServers": [coturn_secret.ice_server("udp", expired.username, expired.credential)]})
    code, out, _ = probe_json("--ice", config, "--no-rtt")
    assert code == 1
    verdict = out["servers"][0]["verdict"]
    assert verdict.startswith("TURN refused the credentials")
    assert "the ephemeral username expired" in verdict

    minted = voicedesk(
        "ice", "credentials", "--secret", SECRET, "--name", "alice", "--ttl", "600", "--url", coturn_secret.url()
    )
    assert minted.returncode == 0, minted.stderr
    entry = json.loads(minted.stdout)
    assert entry["username"].endswith(":alice") and entry["expires_at"] > time.time()
    entry.pop("expires_at")
    config = write(tmp_path, {"iceServers": [entry], "iceTransportPolicy": "relay"}, "fresh.json")
    code, out, _ = probe_json("--ice", config)
    assert code == 0, out
    assert out["servers"][0]["verdict"].startswith("TURN allocated a relay at 127.0.0.1:")
    assert [c["type"] for c in out["candidates"]] == ["relay"]
