"""Which way audio flows, and what a good call of that direction is (rtc/direction.py)."""

from __future__ import annotations

import pytest

from voicedesk.errors import ConfigError
from voicedesk.rtc.call import Call
from voicedesk.rtc.direction import NO_AUDIO_RECEIVED, judge_media, negotiated_direction
from voicedesk.rtc.spec import CallSpec


def answer(direction: str | None, port: int = 9) -> str:
    line = f"a={direction}\r\n" if direction else ""
    return (
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
        f"m=audio {port} UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n{line}"
    )


@pytest.mark.parametrize(
    ("offered", "answered", "ours"),
    [
        ("sendrecv", "sendrecv", "sendrecv"),
        ("sendrecv", None, "sendrecv"),  # no attribute: sendrecv (RFC 4566)
        ("sendrecv", "recvonly", "sendonly"),  # an ingest endpoint
        ("sendrecv", "sendonly", "recvonly"),
        ("sendonly", "recvonly", "sendonly"),
        ("recvonly", "sendonly", "recvonly"),
        ("sendonly", "sendonly", "inactive"),
        ("sendrecv", "inactive", "inactive"),
    ],
)
def test_the_answer_narrows_what_was_offered(offered: str, answered: str | None, ours: str) -> None:
    assert negotiated_direction(offered, answer(answered)) == ours


def test_no_answer_or_a_rejected_section_negotiates_nothing() -> None:
    assert negotiated_direction("sendrecv", None) is None
    assert negotiated_direction("sendrecv", answer("sendrecv", port=0)) == "inactive"


def test_a_call_that_receives_is_judged_by_what_it_received() -> None:
    assert judge_media("sendrecv", audio_received=True, packets_sent=0, peer_reports=0, peer_loss_pct=None).ok
    verdict = judge_media("sendrecv", audio_received=False, packets_sent=250, peer_reports=3, peer_loss_pct=0.0)
    assert not verdict.ok and verdict.problem == NO_AUDIO_RECEIVED  # the CLI's line of before, byte for byte


def test_a_send_only_call_is_judged_by_what_it_sent_and_what_the_peer_reported() -> None:
    confirmed = judge_media("sendonly", audio_received=False, packets_sent=250, peer_reports=2, peer_loss_pct=0.0)
    assert confirmed.ok
    assert confirmed.judged == "250 packets sent; the peer's receiver reports say they arrived (loss 0.0 %)"
    unconfirmed = judge_media("sendonly", audio_received=False, packets_sent=250, peer_reports=0, peer_loss_pct=None)
    assert unconfirmed.ok and "no receiver reports" in unconfirmed.judged
    lost = judge_media("sendonly", audio_received=False, packets_sent=250, peer_reports=2, peer_loss_pct=100.0)
    assert not lost.ok
    assert lost.problem == "connected send-only, but of 250 packets sent none arrived (the peer's receiver reports)"
    nothing = judge_media("sendonly", audio_received=False, packets_sent=None, peer_reports=0, peer_loss_pct=None)
    assert not nothing.ok and nothing.problem == "connected send-only but no audio packets were sent"
    inactive = judge_media("inactive", audio_received=False, packets_sent=0, peer_reports=0, peer_loss_pct=None)
    assert not inactive.ok and "inactive" in (inactive.problem or "")


def test_the_spec_carries_the_direction_and_refuses_an_unknown_one() -> None:
    call = Call.from_spec(CallSpec("embedded:echo", direction="sendonly", hangup_after_source=True))
    assert call.direction == "sendonly" and call.hangup_after_source
    with pytest.raises(ConfigError, match="unknown direction 'both': use sendrecv, sendonly, recvonly"):
        CallSpec("embedded:echo", direction="both")
