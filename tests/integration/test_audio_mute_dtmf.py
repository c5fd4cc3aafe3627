"""Mute sends silence on a live track; DTMF digits sent in-band come back out of an echo."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import numpy as np

from tests.helpers.processes import voicedesk
from voicedesk.media.dtmf import detect_dtmf
from voicedesk.media.pcm import SILENCE_DBFS
from voicedesk.media.sources import ToneTrack
from voicedesk.rtc.call import Call, CallState


async def test_mute_sends_silence_and_the_call_stays_up() -> None:
    call = Call("embedded:echo", source=ToneTrack(1000), timeout=30)
    await call.start()
    try:
        await asyncio.sleep(1.5)
        assert call.rx.level_dbfs(0.5) > -20
        call.muted = True
        frames_at_mute = call.outbound.frames_sent
        await asyncio.sleep(1.5)
        # what was sent while muted is silence, and the echo of it is silence too
        assert call.tx.level_dbfs(0.5) == SILENCE_DBFS
        assert call.rx.level_dbfs(0.5) < -60
        assert call.outbound.frames_sent > frames_at_mute + 50  # frames kept flowing: the track is up
        assert call.state == CallState.CONNECTED
        call.muted = False
        await asyncio.sleep(1.5)
        assert call.rx.peak_hz(0.5) is not None and abs(call.rx.peak_hz(0.5) - 1000) < 3
    finally:
        await call.hangup()


def test_dtmf_digits_go_out_in_band_and_come_back_from_the_echo(tmp_path: Path) -> None:
    received, sent = tmp_path / "rx.wav", tmp_path / "tx.wav"
    result = voicedesk(
        "call", "embedded:echo", "--source", "silence", "--dtmf", "1234#", "--dtmf-delay", "0.5",
        "--duration", "3", "--record", str(received), "--record-sent", str(sent),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "sent '1234#' in-band" in result.stdout
    for path in (sent, received):
        with wave.open(str(path)) as wav:
            audio = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float32) / 32768
        assert detect_dtmf(audio) == "1234#", path.name


def test_bad_dtmf_digits_are_refused_before_the_call() -> None:
    result = voicedesk("call", "embedded:echo", "--dtmf", "12x", "--dtmf-mode", "rfc4733")
    assert result.returncode == 2  # refused while parsing: nothing was dialed
    assert (
        result.stderr.strip()
        == "voicedesk call: --dtmf: bad DTMF digits '12x': 'X' is not one of 0-9 * # A-D (',' pauses)"
    )
