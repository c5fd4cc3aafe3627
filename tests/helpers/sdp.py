"""Minimal good SDPs for the SDP tests (shared by lint, summary, diff and fuzz tests)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sdp"
FINGERPRINT = ":".join(f"{i * 7 % 256:02X}" for i in range(32))

# lint-clean: no finding at all, so each bad example below changes exactly one thing
OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 1 1 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "a=msid-semantic:WMS *",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 0",
        "c=IN IP4 0.0.0.0",
        "a=mid:0",
        "a=sendrecv",
        "a=rtcp-mux",
        "a=ice-ufrag:abcd",
        "a=ice-pwd:abcdefghijklmnopqrstuv",
        "a=ice-options:trickle",
        f"a=fingerprint:sha-256 {FINGERPRINT}",
        "a=setup:actpass",
        "a=rtpmap:111 opus/48000/2",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=rtpmap:0 PCMU/8000",
        "a=candidate:1 1 udp 41885439 203.0.113.5 50000 typ relay raddr 192.0.2.1 rport 40000",
        "a=end-of-candidates",
        "",
    ]
)
ANSWER = (
    OFFER.replace("a=setup:actpass", "a=setup:active")
    .replace("a=ice-ufrag:abcd", "a=ice-ufrag:wxyz")
    .replace("a=ice-pwd:abcdefghijklmnopqrstuv", "a=ice-pwd:ABCDEFGHIJKLMNOPQRSTUV")
    .replace("203.0.113.5 50000", "203.0.113.6 50002")
)


def fixture_texts() -> dict[str, str]:
    """Every real SDP in tests/fixtures/sdp, read without newline translation."""
    return {p.name: p.read_bytes().decode("utf-8") for p in sorted(FIXTURES.glob("*.sdp"))}


def mutate(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)
