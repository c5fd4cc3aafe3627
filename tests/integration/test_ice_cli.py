"""``voicedesk ice presets|export|import|credentials`` and bad input, as a user runs them."""

from __future__ import annotations

import json

import pytest

from tests.helpers.processes import voicedesk


@pytest.fixture
def env(tmp_path):
    return {"VOICEDESK_CONFIG_DIR": str(tmp_path / "config")}


def test_presets_list_names_and_descriptions(env):
    result = voicedesk("ice", "presets", env=env)
    assert result.returncode == 0, result.stderr
    for name in ("host-only", "public-stun", "turn-udp", "turn-tcp", "turn-tls"):
        assert name in result.stdout
    presets = json.loads(voicedesk("ice", "presets", "--json", env=env).stdout)
    tls = next(p for p in presets if p["name"] == "turn-tls")
    assert tls["template"] and tls["config"]["iceServers"][0]["credential"] == "***"


def test_import_then_use_by_name_and_export_redacted(tmp_path, env):
    source = tmp_path / "office.json"
    source.write_text(
        json.dumps({"iceServers": [{"urls": "turn:10.1.2.3:3478", "username": "bob", "credential": "hunter2"}]})
    )
    result = voicedesk("ice", "import", str(source), "--name", "office", env=env)
    assert result.returncode == 0, result.stderr
    assert "imported preset 'office'" in result.stdout
    out = tmp_path / "out.json"
    result = voicedesk("ice", "export", "office", "--relay-only", "-o", str(out), env=env)
    assert result.returncode == 0, result.stderr
    exported = json.loads(out.read_text())
    assert exported["iceTransportPolicy"] == "relay"
    assert exported["iceServers"][0] == {"urls": "turn:10.1.2.3:3478", "username": "bob", "credential": "***"}
    assert "hunter2" not in out.read_text() + result.stdout + result.stderr


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("{", "is not valid JSON (line 1, column 2"),
        ('{"iceServers": [{"urls": "http://x"}]}', "unknown ICE server URL 'http://x' (use stun:, turn: or turns:)"),
        ('{"iceServers": [{"urls": "turn:x"}]}', "'turn:x' is a TURN server and needs username and credential"),
        (
            '{"iceServers": [{"urls": "turns:x", "username": "u", "credential": "p"}]}',
            "'turns:x': turns: needs ?transport=tcp with aiortc",
        ),
        ('{"iceServers": [{"urls": "stun:x?transport=tcp"}]}', "stun: URLs take no ?transport= (aiortc rejects them)"),
    ],
)
def test_bad_configurations_end_in_one_line(tmp_path, env, config, message):
    path = tmp_path / "bad.json"
    path.write_text(config)
    result = voicedesk("ice", "probe", "--ice", str(path), env=env)
    assert result.returncode == 1
    assert result.stderr.startswith(f"voicedesk: {path}")
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_unknown_preset_and_missing_secret_are_explained(env):
    result = voicedesk("ice", "probe", "--ice", "office-vpn", env=env)
    assert result.returncode == 1
    assert "voicedesk: no ICE preset named 'office-vpn' (presets: host-only" in result.stderr
    result = voicedesk("ice", "credentials", "--name", "alice", env={**env, "VOICEDESK_TURN_SECRET": ""})
    assert result.returncode == 1
    assert "voicedesk: give the TURN server's shared secret with --secret or $VOICEDESK_TURN_SECRET" in result.stderr


def test_credentials_read_the_secret_from_the_environment(env):
    result = voicedesk("ice", "credentials", "--name", "alice", "--json", env={**env, "VOICEDESK_TURN_SECRET": "s"})
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["username"].endswith(":alice") and len(out["credential"]) == 28  # base64 of 20 bytes


def test_host_only_probe_lists_host_candidates(env):
    result = voicedesk("ice", "probe", "--ice", "host-only", "--json", env=env)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["servers"] == [] and out["candidates"]
    assert {c["type"] for c in out["candidates"]} == {"host"}
    assert any(c["address"] == "10.99.0.1" for c in out["candidates"])
