"""Audio faults: no sound server, a sound server dying mid-call, a bad file, a killed recorder."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

from tests.helpers.processes import voicedesk, wait_until
from tests.helpers.pulse import PulseServer, no_sound_server, own_pulse  # noqa: F401 - fixtures
from voicedesk.media.devices import AudioDeviceNotice
from voicedesk.media.microphone import MicrophoneTrack
from voicedesk.media.speaker import SpeakerSink
from voicedesk.rtc.call import Call, CallState

NO_SERVER = {"PULSE_SERVER": "unix:/nonexistent/vd-no-pulse/native"}


def test_no_sound_server_falls_back_to_silence_and_a_null_sink() -> None:
    result = voicedesk("call", "embedded:echo", "--source", "mic", "--speaker", "--duration", "1", env=NO_SERVER)
    assert result.returncode == 0, result.stderr
    assert "voicedesk: no audio input device: using silence" in result.stderr
    assert "voicedesk: no audio output device: received audio is not played (null sink)" in result.stderr
    assert "Traceback" not in result.stderr
    assert "microphone     silence (fallback)" in result.stdout
    assert "speaker        not played (fallback: null sink)" in result.stdout


def test_voicedesk_devices_without_a_sound_server_says_so() -> None:
    result = voicedesk("devices", env=NO_SERVER)
    assert result.returncode == 1
    assert result.stderr.startswith("voicedesk: no audio devices found: is a sound server")
    assert "Traceback" not in result.stderr


async def test_in_process_fallbacks_without_a_sound_server(no_sound_server: None) -> None:  # noqa: F811
    mic, speaker = MicrophoneTrack(), SpeakerSink()
    assert mic.using_fallback and speaker.using_fallback
    assert [n.message for n in mic.notices] == ["no audio input device: using silence"]
    call = Call("embedded:echo", source=mic, sinks=[speaker], timeout=30)
    summary = await call.run(1.0)
    assert summary["final_state"] == "ended"
    assert summary["tx_frames"] > 20  # silence went out all along


async def test_the_sound_server_dying_mid_call_gives_a_message_and_the_call_goes_on(own_pulse: PulseServer) -> None:  # noqa: F811
    notices: list[AudioDeviceNotice] = []
    mic = MicrophoneTrack(listener=notices.append)
    speaker = SpeakerSink(listener=notices.append)
    call = Call("embedded:echo", source=mic, sinks=[speaker], timeout=30)
    await call.start()
    try:
        await asyncio.sleep(1.0)
        assert not mic.using_fallback and not speaker.using_fallback
        own_pulse.kill()
        sent_at_kill = call.outbound.frames_sent
        deadline = time.monotonic() + 15
        while (not mic.using_fallback or not speaker.using_fallback) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        assert call.state == CallState.CONNECTED
        assert call.outbound.frames_sent > sent_at_kill + 25  # still sending (silence) after the loss
    finally:
        await call.hangup()
    messages = [n.message for n in notices]
    assert any("stopped delivering audio: using silence" in m for m in messages), messages
    assert any("stopped playing: received audio is not played" in m for m in messages), messages


def test_a_wav_that_cannot_be_read_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "prompt.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot really a wav file")
    result = voicedesk("call", "embedded:echo", "--source", f"wav:{bad}", "--duration", "1")
    assert result.returncode == 1
    assert result.stderr.startswith(f"voicedesk: cannot read audio file {bad}: ")
    assert "Traceback" not in result.stderr
    missing = voicedesk("call", "embedded:echo", "--source", f"wav:{tmp_path / 'nope.wav'}", "--duration", "1")
    assert f"cannot read audio file {tmp_path / 'nope.wav'}: no such file" in missing.stderr


def test_a_recording_is_playable_after_the_process_is_killed_mid_call(tmp_path: Path) -> None:
    stereo, sent = tmp_path / "both.wav", tmp_path / "sent.wav"
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicedesk", "call", "embedded:echo", "--source", "tone:600", "--duration", "60",
         "--record-stereo", str(stereo), "--record-sent", str(sent)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        # 1.5 s of audio on disk (16-bit stereo at 48 kHz), then the process dies without any clean-up
        assert wait_until(lambda: stereo.exists() and stereo.stat().st_size > 44 + 288_000, timeout=60)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    for path, channels in ((stereo, 2), (sent, 1)):
        with wave.open(str(path)) as wav:
            assert wav.getnchannels() == channels
            frames = wav.getnframes()
            assert frames > 48_000
            # the header's length matches the data: nothing truncated, nothing missing
            assert path.stat().st_size - 44 == frames * channels * 2


def test_a_failed_call_still_leaves_valid_recordings(tmp_path: Path) -> None:
    stereo, sent = tmp_path / "both.wav", tmp_path / "sent.wav"
    result = voicedesk(
        "call", "http://127.0.0.1:9/api/voice/offer", "--timeout", "3",
        "--record-stereo", str(stereo), "--record-sent", str(sent),
    )  # fmt: skip
    assert result.returncode == 1
    for path in (stereo, sent):
        with wave.open(str(path)) as wav:  # a header that says "no audio", not a truncated file
            assert wav.getnframes() == 0
