"""Which way audio flows in a call, and what a good call of that direction is.

A caller offers ``sendrecv`` (the default), ``sendonly`` (an ingest endpoint: WHIP to
a media server) or ``recvonly`` (listen only). The answer may narrow it: a WHIP
endpoint that only ingests answers ``recvonly`` to a ``sendrecv`` offer, which makes
the call send-only. Success is judged by what the negotiated direction promises: a
call that receives must receive audio; a send-only call must have sent packets,
and the peer's RTCP receiver reports, when it sends them, must not say all were lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from voicedesk.errors import ConfigError, SdpError
from voicedesk.rtc.sdp import model as sdp_model

DIRECTIONS = ("sendrecv", "sendonly", "recvonly")
NO_AUDIO_RECEIVED = "connected but no audio was received from the peer"


def check_direction(direction: str) -> str:
    """``direction`` if it is one a call can offer, else a ``ConfigError`` naming them."""
    if direction not in DIRECTIONS:
        raise ConfigError(f"unknown direction {direction!r}: use {', '.join(DIRECTIONS)}")
    return direction


def negotiated_direction(offered: str, answer_sdp: str | None) -> str | None:
    """Our side's direction once the answer is in: what we offered, less what the peer's
    answer refused (its ``recvonly`` is our ``sendonly``); None before there is an answer."""
    if not answer_sdp:
        return None
    try:
        description = sdp_model.parse(answer_sdp)
    except SdpError:
        return None
    audio = next((m for m in description.media if m.kind == "audio"), None)
    if audio is None or audio.port == 0:
        return "inactive"  # no audio section, or one the peer rejected
    theirs = description.direction_of(audio)
    send = "send" in offered and theirs in ("sendrecv", "recvonly")
    receive = "recv" in offered and theirs in ("sendrecv", "sendonly")
    return {(True, True): "sendrecv", (True, False): "sendonly", (False, True): "recvonly"}.get(
        (send, receive), "inactive"
    )


@dataclass(frozen=True)
class MediaVerdict:
    """Whether the media of a connected call did what its direction promises."""

    direction: str  # negotiated, our side (what was offered if there was no answer)
    ok: bool
    judged: str  # what was judged, in a sentence (the summary's "judged")
    problem: str | None = None  # the one-line reason when not ok, as the CLI prints it


def judge_media(
    direction: str,
    *,
    audio_received: bool,
    packets_sent: int | None,
    peer_reports: int,
    peer_loss_pct: float | None,
) -> MediaVerdict:
    """``peer_reports``: stats samples that carried the peer's receiver report of what we
    sent; ``peer_loss_pct``: the loss its latest report gave."""
    if "recv" in direction:
        if audio_received:
            return MediaVerdict(direction, True, "audio received from the peer")
        return MediaVerdict(direction, False, "no audio received from the peer", NO_AUDIO_RECEIVED)
    if direction != "sendonly":
        text = "the answer left the audio inactive: no audio flows either way"
        return MediaVerdict(direction, False, text, f"connected but {text}")
    sent = packets_sent or 0
    if sent == 0:
        text = "no audio packets were sent"
        return MediaVerdict(direction, False, text, f"connected send-only but {text}")
    if not peer_reports:
        text = f"{sent} packets sent; the peer sent no receiver reports, so their arrival is not confirmed"
        return MediaVerdict(direction, True, text)
    if peer_loss_pct is not None and peer_loss_pct >= 100.0:
        text = f"{sent} packets sent, but the peer's receiver reports say none arrived"
        return MediaVerdict(
            direction,
            False,
            text,
            f"connected send-only, but of {sent} packets sent none arrived (the peer's receiver reports)",
        )
    loss = "" if peer_loss_pct is None else f" (loss {peer_loss_pct:.1f} %)"
    return MediaVerdict(direction, True, f"{sent} packets sent; the peer's receiver reports say they arrived{loss}")
