"""Edited offers and answers change a real call (aiortc peers over UDP, the embedded server over HTTP)."""

from __future__ import annotations

import json
import re
import shlex
import sys
import time

import pytest

from tests.helpers.processes import voicedesk
from voicedesk.errors import DtlsError, SdpError
from voicedesk.media.sources import ToneTrack
from voicedesk.rtc.call import Call, CallState
from voicedesk.rtc.sdp import parse
from voicedesk.rtc.sdp.edit import keep_codecs
from voicedesk.rtc.sdp.summary import summarize

EDIT_PCMU = f"{shlex.quote(sys.executable)} -m voicedesk sdp edit --keep-codec PCMU -"


async def only_pcmu(sdp: str) -> str:
    return keep_codecs(sdp, ["PCMU"])


async def test_offer_edited_to_pcmu_negotiates_pcmu_and_the_tone_arrives():
    call = Call("embedded:echo", source=ToneTrack(1000), edit_offer=only_pcmu, timeout=20)
    summary = await call.run(duration=3.0)
    assert summary["state"] == "connected", summary["reason"]
    # what was applied and sent is the edit; the original is kept for a diff
    assert "opus" in call.unedited_sdp["offer"] and "opus" not in (call.local_sdp or "")
    negotiated = summarize(parse(call.local_sdp or ""), parse(call.remote_sdp or ""))
    audio = next(s for s in negotiated.sections if s.kind == "audio")
    assert audio.codec is not None and (audio.codec.name, audio.codec.clock_rate) == ("PCMU", 8000)
    assert audio.also_common == []
    # the echoed tone came back through PCMU (8 kHz decode, resampled to 48 kHz) at its own pitch
    assert summary["rx_peak_hz"] is not None and abs(summary["rx_peak_hz"] - 1000) <= 10
    assert summary["packets_received"] > 50
    # PCMU is 64 kbit/s of payload, far above what aiortc's Opus uses for a tone
    assert summary["bitrate_out_kbps"] is None or summary["bitrate_out_kbps"] > 50


async def test_an_unchanged_edit_is_not_an_edit():
    seen: list[str] = []

    async def look(sdp: str) -> str:
        seen.append(sdp)
        return sdp

    call = Call("embedded:echo", source=ToneTrack(700), edit_offer=look, edit_answer=look)
    summary = await call.run(duration=1.0)
    assert summary["state"] == "connected"
    assert call.unedited_sdp == {}
    assert seen[0] == call.local_sdp and "a=candidate:" in seen[0]  # the editor sees the gathered candidates
    assert seen[1] == call.remote_sdp and "a=setup:active" in seen[1]


async def test_edit_time_does_not_count_against_the_set_up_timeout():
    async def slow(sdp: str) -> str:
        import asyncio

        await asyncio.sleep(2.5)  # a person reading the offer before sending it
        return sdp

    call = Call("embedded:echo", source=ToneTrack(500), edit_offer=slow, timeout=2.0)
    summary = await call.run(duration=0.5)
    assert summary["state"] == "connected", summary["reason"]


async def expect_clean_failure(call: Call, shown: str) -> None:
    with pytest.raises(SdpError) as caught:
        await call.start()
    assert shown in str(caught.value)
    assert call.state == CallState.FAILED and shown in (call.reason or "")
    assert call.pc is not None and call.pc.connectionState == "closed"
    assert call.outbound.readyState == "ended"
    await call.hangup()  # idempotent after a failure
    assert call.state == CallState.FAILED


async def test_offer_aiortc_refuses_fails_the_call_cleanly():
    async def no_rtcp_mux(sdp: str) -> str:
        return sdp.replace("a=rtcp-mux\r\n", "")

    call = Call("embedded:echo", edit_offer=no_rtcp_mux)
    await expect_clean_failure(
        call,
        "the edited offer was refused: line 7: m-section 0 (audio, mid 0) has no a=rtcp-mux [missing-rtcp-mux] "
        "(aiortc: ValueError: RTCP mux is not enabled)",
    )


async def test_an_answer_without_a_fingerprint_fails_at_once_not_after_the_timeout():
    async def no_fingerprint(sdp: str) -> str:
        return re.sub(r"a=fingerprint:[^\r\n]*\r\n", "", sdp)

    started = time.monotonic()
    await expect_clean_failure(
        Call("embedded:echo", edit_answer=no_fingerprint, timeout=20),
        "the edited answer has no a=fingerprint: the peer's DTLS certificate cannot be verified",
    )
    assert time.monotonic() - started < 10  # aiortc alone would wait out the 20 s


async def test_a_certificate_that_does_not_match_its_fingerprint_is_called_a_dtls_failure():
    """ICE connects; the handshake fails: the reason names DTLS and the fingerprint, not ICE."""

    async def other_fingerprint(sdp: str) -> str:
        return re.sub(
            r"(a=fingerprint:sha-256 )([0-9A-F])", lambda m: m[1] + ("1" if m[2] == "0" else "0"), sdp, count=1
        )

    call = Call("embedded:echo", edit_answer=other_fingerprint, timeout=20)
    with pytest.raises(DtlsError) as caught:
        await call.start()
    text = str(caught.value)
    assert text.startswith("ICE connected but the DTLS handshake did not complete (connection failed): ")
    assert "a=fingerprint" in text and call.reason == text
    assert call.pc is not None and call.pc.iceConnectionState == "closed"
    await call.hangup()


async def test_answer_aiortc_refuses_fails_the_call_cleanly():
    async def actpass(sdp: str) -> str:
        return sdp.replace("a=setup:active", "a=setup:actpass")

    call = Call("embedded:echo", edit_answer=actpass)
    # the line depends on how many candidates (interfaces) the answer lists
    await expect_clean_failure(call, "the edited answer could not be applied: line ")
    assert re.search(
        r"line \d+: an answer must say a=setup:active or a=setup:passive \[setup-actpass-in-answer\] "
        r"\(aiortc: ValueError: DTLS setup attribute must be 'active' or 'passive'",
        call.reason or "",
    ), call.reason


@pytest.mark.parametrize(
    ("edit", "shown"),
    [
        (lambda sdp: "hello", "the edited offer is not SDP: line 1: not SDP"),
        (lambda sdp: "", "the edited offer is empty"),
        (lambda sdp: 1 / 0, "editing the offer failed: ZeroDivisionError"),
        (
            lambda sdp: sdp + "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:9\r\na=rtcp-mux\r\n",
            "do not add, remove or reorder them",
        ),
        (
            lambda sdp: sdp.replace("m=audio ", "m=audio x ", 1),
            "the edited offer is not SDP: line 7: the port of an m= line must be a number",
        ),
    ],
)
async def test_broken_edits_fail_the_call_cleanly(edit, shown):
    async def editor(sdp: str) -> str:
        return edit(sdp)

    await expect_clean_failure(Call("embedded:echo", edit_offer=editor), shown)


def test_cli_edit_offer_pipes_through_a_command():
    result = voicedesk(
        "call", "embedded:echo", "--source", "tone:1000", "--duration", "2.5", "--json", "--edit-offer", EDIT_PCMU
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["state"] == "connected" and abs(summary["rx_peak_hz"] - 1000) <= 10


@pytest.mark.parametrize(
    ("option", "command", "shown"),
    [
        (
            "--edit-offer",
            "echo 'no such codec' >&2; exit 3",
            "voicedesk: --edit-offer command failed (exit status 3): no such codec",
        ),
        ("--edit-offer", "cat >/dev/null", "voicedesk: --edit-offer command printed nothing"),
        (
            "--edit-answer",
            "sed s/setup:active/setup:actpass/",
            "voicedesk: the edited answer could not be applied: line ",
        ),
        ("--edit-offer", "/no/such/editor", "voicedesk: --edit-offer command failed (exit status 127): "),
    ],
)
def test_cli_edit_failures_are_one_line(option, command, shown):
    result = voicedesk("call", "embedded:echo", "--duration", "1", option, command)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("voicedesk:")]
    assert len(errors) == 1 and errors[0].startswith(shown), result.stderr
    assert "Traceback" not in result.stderr


async def test_time_spent_editing_is_not_set_up_time():
    """A person reading the offer for 1.5 s must not make the agent look 1.5 s slow."""

    async def slow(sdp: str) -> str:
        import asyncio

        await asyncio.sleep(1.5)
        return sdp

    call = Call("embedded:echo", source=ToneTrack(500), edit_offer=slow)
    summary = await call.run(duration=0.3)
    assert summary["state"] == "connected", summary["reason"]
    assert summary["setup_ms"] < 1000, summary
    phases = summary["setup_phases"]
    assert set(phases) == {"gathering_ms", "signaling_ms", "connecting_ms"}
    assert sum(phases.values()) <= summary["setup_ms"] + 1
