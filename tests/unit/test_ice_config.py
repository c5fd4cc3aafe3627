"""ICE configurations: validation messages, presets, relay-only switch, import/export without secrets."""

from __future__ import annotations

import json
import logging
import re
import stat

import pytest

from voicedesk.config import IceConfig, import_preset, list_presets, load_preset, resolve_ice
from voicedesk.errors import ConfigError

TURN = {"urls": "turn:turn.example.com:3478", "username": "alice", "credential": "s3cret-pass"}


@pytest.fixture(autouse=True)
def _user_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICEDESK_CONFIG_DIR", str(tmp_path / "config"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"iceServers": [{"urls": "turnx:a"}]}',
            "iceServers[0]: unknown ICE server URL 'turnx:a' (use stun:, turn: or turns:)",
        ),
        (
            '{"iceServers": [{"urls": "turn:a:3478", "username": "u"}]}',
            "is a TURN server and needs username and credential",
        ),
        (
            '{"iceServers": [{"urls": "turns:a:443", "username": "u", "credential": "p"}]}',
            "'turns:a:443': turns: needs ?transport=tcp with aiortc",
        ),
        ('{"iceServers": [{"urls": "stun:a?transport=udp"}]}', "stun: URLs take no ?transport= (aiortc rejects them)"),
        ('{"iceServers": [', "is not valid JSON (line 1, column"),
        (
            '{"iceServers": [{"urls": "turn:a?transport=sctp", "username": "u", "credential": "p"}]}',
            "transport must be udp or tcp",
        ),
    ],
)
def test_each_problem_gets_its_own_message(text, message):
    with pytest.raises(ConfigError) as info:
        IceConfig.from_text(text, origin="my.json")
    assert str(info.value).startswith("my.json")
    assert message in str(info.value)


def test_more_servers_than_aiortc_uses_is_a_warning_not_an_error():
    config = IceConfig.from_json(
        {"iceServers": [{"urls": ["stun:a", "stun:b"]}, TURN, {**TURN, "urls": "turn:backup.example.com"}]}
    )
    assert "aiortc uses only the first STUN server (stun:a); 1 more ignored" in config.warnings
    assert "aiortc uses only the first TURN server (turn:turn.example.com:3478); 1 more ignored" in config.warnings
    assert config.aiortc_urls == ("stun:a", "turn:turn.example.com:3478")


def test_relay_only_switch_keeps_servers_and_recomputes_warnings():
    config = IceConfig.from_json({"iceServers": [{"urls": "stun:a"}]})
    relay = config.relay_only()
    assert relay.iceTransportPolicy == "relay" and relay.iceServers == config.iceServers
    assert relay.warnings == ('iceTransportPolicy is "relay" but no TURN server is configured',)
    assert relay.relay_only(False).warnings == ()
    assert relay.to_rtc().iceTransportPolicy.value == "relay"


def test_builtin_presets_cover_host_stun_and_turn_over_udp_tcp_tls():
    presets = {p.name: p for p in list_presets()}
    assert {"host-only", "public-stun", "turn-udp", "turn-tcp", "turn-tls"} <= presets.keys()
    assert presets["host-only"].config.iceServers == ()
    assert presets["public-stun"].config.aiortc_urls[0] == "stun:stun.l.google.com:19302"
    assert presets["turn-tcp"].config.aiortc_urls[1].endswith("?transport=tcp")
    assert presets["turn-tls"].config.aiortc_urls[1].startswith("turns:")
    assert all(presets[n].template for n in ("turn-udp", "turn-tcp", "turn-tls"))
    for preset in presets.values():
        assert preset.description, preset.name
        preset.config.to_rtc()  # aiortc accepts every preset


def test_resolve_ice_takes_a_preset_name_or_a_file(tmp_path):
    assert resolve_ice(None) == IceConfig()
    assert resolve_ice("public-stun").aiortc_urls[0] == "stun:stun.l.google.com:19302"
    template = resolve_ice("turn-udp", relay_only=True)
    assert template.iceTransportPolicy == "relay"
    assert any("is a template" in w for w in template.warnings)
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"iceServers": [TURN]}))
    assert resolve_ice(str(path)).aiortc_urls[1] == TURN["urls"]
    with pytest.raises(ConfigError, match=r"no ICE preset named 'nope' \(presets: .*host-only"):
        resolve_ice("nope")
    with pytest.raises(ConfigError, match=r"cannot read ICE configuration missing\.json"):
        resolve_ice("missing.json")


def test_exports_and_reprs_never_carry_the_credential(tmp_path, caplog):
    config = IceConfig.from_json({"iceServers": [TURN]})
    out = tmp_path / "export.json"
    config.export(out)
    text = out.read_text()
    assert "s3cret-pass" not in text and '"credential": "***"' in text
    assert "s3cret-pass" not in repr(config) and "s3cret-pass" not in str(config)
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("config %s", config)
    assert "s3cret-pass" not in caplog.text
    # importing a redacted export warns that the secret must be put back
    again = IceConfig.load(out)
    assert 'iceServers[0]: the credential is "***" (a redacted export): put the real one back' in again.warnings


def test_import_keeps_a_user_preset_readable_only_by_its_owner(tmp_path):
    source = tmp_path / "office.json"
    source.write_text(json.dumps({"iceServers": [TURN], "iceTransportPolicy": "relay"}))
    preset = import_preset(source, "office-turn")
    assert stat.S_IMODE(preset.path.stat().st_mode) == 0o600
    loaded = load_preset("office-turn")
    assert not loaded.builtin
    assert loaded.config.iceServers[0].credential == "s3cret-pass"
    assert loaded.config.iceTransportPolicy == "relay"
    with pytest.raises(ConfigError, match=re.escape("bad preset name '../x'")):
        import_preset(source, "../x")
    bad = tmp_path / "bad.json"
    bad.write_text('{"iceServers": [{"urls": "turn:x"}]}')
    with pytest.raises(ConfigError, match="needs username and credential"):
        import_preset(bad)


def test_stuns_urls_are_flagged_because_aiortc_skips_them():
    config = IceConfig.from_json({"iceServers": [{"urls": ["stuns:s.example.com:5349", "stun:a"]}]})
    assert config.warnings == ("aiortc ignores stuns: URLs (stuns:s.example.com:5349); use stun: or turns:",)
    assert config.aiortc_urls == ("stun:a", None)


def test_an_empty_configuration_gives_aiortc_an_empty_list_not_none():
    # None would make aiortc add stun:stun.l.google.com:19302 (RTCIceGatherer.getDefaultIceServers)
    assert IceConfig().to_rtc().iceServers == []
    assert IceConfig().describe_candidates() == "host candidates only"


def test_describe_candidates_names_the_servers_aiortc_uses():
    stun = IceConfig.from_json({"iceServers": [{"urls": "stun:stun.example.com:3478"}]})
    assert stun.describe_candidates() == "host and server-reflexive (from stun:stun.example.com:3478)"
    both = IceConfig.from_json({"iceServers": [{"urls": "stun:s.example.com"}, TURN]})
    assert both.describe_candidates() == (
        "host, server-reflexive (from stun:s.example.com) and relay (through turn:turn.example.com:3478)"
    )
    assert both.relay_only().describe_candidates() == "relay candidates only (through turn:turn.example.com:3478)"
