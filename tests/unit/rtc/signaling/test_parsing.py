"""Pure parts of the signaling modules: target dispatch, masking, candidates, Janus URLs."""

from __future__ import annotations

import pytest

from voicedesk.errors import ConfigError
from voicedesk.rtc.signaling import signaling_for_target, with_signaling_kind
from voicedesk.rtc.signaling.base import candidate_from_json, candidate_to_json
from voicedesk.rtc.signaling.janus import janus_error_text, parse_janus_url
from voicedesk.rtc.signaling.log import SignalingExchanged, mask_all, mask_body


@pytest.mark.parametrize(
    ("target", "kind", "cls"),
    [
        ("http://h/api/voice/offer", None, "HttpJsonSignaling"),
        ("json+http://h/api/voice/offer", None, "HttpJsonSignaling"),
        ("http://h:7860", "pipecat", "PipecatSignaling"),
        ("whip+https://h/whip", None, "WhipSignaling"),
        ("https://h/whip", "whip", "WhipSignaling"),
        ("ws://h/ws", None, "WebSocketSignaling"),
        ("wss://h/ws", "ws", "WebSocketSignaling"),
        ("janus+http://h:8088/janus", None, "JanusSignaling"),
        ("embedded:tone", None, "EmbeddedSignaling"),
        ("embedded+http:tone", None, "EmbeddedHttpSignaling"),
    ],
)
def test_targets_pick_their_signaling(target, kind, cls):
    assert type(signaling_for_target(target, kind=kind)).__name__ == cls


def test_with_signaling_kind():
    assert with_signaling_kind("https://h/x", "whip") == "whip+https://h/x"
    assert with_signaling_kind("whip+https://h/x", "whip") == "whip+https://h/x"
    assert with_signaling_kind("https://h/x", None) == "https://h/x"
    with pytest.raises(ConfigError, match="unknown signaling 'sip'"):
        with_signaling_kind("https://h/x", "sip")


def test_masking_headers_and_bodies():
    masked = dict(
        mask_all(
            {
                "Authorization": "Bearer abc",
                "Link": '<turn:t.example>; rel="ice-server"; username="u"; credential="pw"',
                "Content-Type": "application/sdp",
            }
        )
    )
    assert masked["Authorization"] == "Bearer ***"
    assert 'credential="***"' in masked["Link"] and "pw" not in masked["Link"] and 'username="u"' in masked["Link"]
    assert masked["Content-Type"] == "application/sdp"
    body = mask_body(b'{"janus": "create", "apisecret": "s3", "nested": {"token": "t"}}', "application/json")
    assert "s3" not in body and '"t"' not in body and '"create"' in body


def test_one_line_summary():
    event = SignalingExchanged("whip", "POST", "http://h/whip", 201, "Created", request_bytes=2048, elapsed_ms=12.4)
    assert event.one_line() == "POST http://h/whip -> 201 Created (12 ms, sent 2.0 kB, received 0 B)"
    failed = SignalingExchanged("json", "POST", "http://h/x", error="cannot connect to h:80")
    assert "-> cannot connect to h:80" in failed.one_line()


def test_candidates_round_trip_through_browser_json():
    browser = {
        "candidate": "candidate:1 1 udp 2130706431 10.99.0.1 40000 typ host",
        "sdpMid": "0",
        "sdpMLineIndex": 0,
    }
    candidate = candidate_from_json(browser)
    assert candidate is not None and candidate.ip == "10.99.0.1" and candidate.port == 40000
    assert candidate_to_json(candidate) == browser
    assert candidate_from_json({"candidate": ""}) is None  # end of candidates
    assert candidate_from_json({"completed": True}) is None  # Janus's end of candidates
    with pytest.raises(ValueError):
        candidate_from_json("candidate:1")


def test_janus_urls():
    base, plugin, body, auth = parse_janus_url("http://h:8088/janus/?apisecret=x")
    assert (base, plugin, body, auth) == (
        "http://h:8088/janus",
        "janus.plugin.echotest",
        {"audio": True, "video": False},
        {"apisecret": "x"},
    )
    _, plugin, body, _ = parse_janus_url('http://h/janus?plugin=janus.plugin.videoroom&body={"request":"join"}')
    assert plugin == "janus.plugin.videoroom" and body == {"request": "join"}
    with pytest.raises(ConfigError, match="plugin names look like"):
        parse_janus_url("http://h/janus?plugin=echotest")
    with pytest.raises(ConfigError, match="not JSON"):
        parse_janus_url("http://h/janus?body={")


def test_janus_errors():
    assert janus_error_text({"janus": "error", "error": {"code": 458, "reason": "No such session"}}) == (
        "error 458: No such session"
    )
    event = {
        "janus": "event",
        "plugindata": {"plugin": "janus.plugin.echotest", "data": {"error_code": 414, "error": "x"}},
    }
    assert janus_error_text(event) == "janus.plugin.echotest error 414: x"
    assert janus_error_text({"janus": "ack"}) is None
