"""STUN/TURN client pieces that need no server: URL parsing, long-term key, messages."""

from __future__ import annotations

import pytest
from aioice import stun as aioice_stun

from voicedesk.rtc.stun import ServerAddress, _expired_username, integrity_key


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("stun:stun.l.google.com:19302", ("stun", "stun.l.google.com", 19302, "udp", "STUN", "UDP")),
        ("turn:10.0.0.1", ("turn", "10.0.0.1", 3478, "udp", "TURN", "UDP")),
        ("turn:t.example.com:80?transport=tcp", ("turn", "t.example.com", 80, "tcp", "TURN", "TCP")),
        ("turns:t.example.com?transport=tcp", ("turns", "t.example.com", 5349, "tcp", "TURN", "TLS")),
        ("turn:[2001:db8::1]:3478", ("turn", "2001:db8::1", 3478, "udp", "TURN", "UDP")),
    ],
)
def test_urls_parse_like_aiortc_parses_them(url, expected):
    a = ServerAddress.parse(url)
    assert (a.scheme, a.host, a.port, a.transport, a.kind, a.via) == expected


def test_long_term_key_is_the_one_aioice_signs_with():
    # MD5(username ":" realm ":" password), RFC 8489 section 9.2.2; aiortc's own TURN client must agree
    from aioice.turn import make_integrity_key

    assert integrity_key("vd", "voicedesk.test", "vdpass") == make_integrity_key("vd", "voicedesk.test", "vdpass")
    assert len(integrity_key("vd", "voicedesk.test", "vdpass")) == 16


def test_signed_request_round_trips_with_integrity_and_fingerprint():
    message = aioice_stun.Message(aioice_stun.Method.ALLOCATE, aioice_stun.Class.REQUEST)
    message.attributes["USERNAME"] = "vd"
    message.attributes["REALM"] = "voicedesk.test"
    message.attributes["NONCE"] = b"abc"
    key = integrity_key("vd", "voicedesk.test", "vdpass")
    message.add_message_integrity(key)
    message.add_fingerprint()
    parsed = aioice_stun.parse_message(bytes(message))
    assert parsed.check_message_integrity(key)
    assert not parsed.check_message_integrity(integrity_key("vd", "voicedesk.test", "wrong"))
    assert "FINGERPRINT" in parsed.attributes


def test_expired_ephemeral_username_is_named():
    assert "expired" in _expired_username("1600000000:alice")
    assert _expired_username("4000000000:alice") is None
    assert _expired_username("vd") is None
