"""Real sound server: virtual microphone -> VoiceDesk -> embedded echo -> speaker -> null sink monitor.

PulseAudio runs with a null sink as the speaker and a virtual microphone
(tests/helpers/pulse.py); PortAudio reaches it through ALSA's pulse plugin, as on
a desktop. What is asserted is what a listener at the speaker would hear.
"""

from __future__ import annotations

import asyncio
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.processes import voicedesk
from tests.helpers.pulse import PulseServer, pulse  # noqa: F401 - fixture
from voicedesk.errors import VoiceDeskError
from voicedesk.media.devices import AudioDeviceNotice
from voicedesk.media.microphone import MicrophoneTrack
from voicedesk.media.pcm import SAMPLE_RATE, dominant_frequency, level_dbfs
from voicedesk.media.sinks import StereoRecorderSink
from voicedesk.media.sources import WavTrack
from voicedesk.media.speaker import SpeakerSink
from voicedesk.qa.capture import CallCapture
from voicedesk.rtc.call import Call
from voicedesk.rtc.spec import CallSpec


def sine(freq: float, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def window_peaks(samples: np.ndarray, window_s: float = 0.2) -> list[float]:
    """The tone's frequency in each short window (None for silent ones dropped): a glitch
    from a late device callback on a loaded machine spoils one window, not the verdict."""
    size = int(SAMPLE_RATE * window_s)
    peaks = (dominant_frequency(samples[i : i + size]) for i in range(0, samples.size - size + 1, size))
    return [p for p in peaks if p is not None]


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
        return data.reshape(-1, wav.getnchannels())


def write_wav(path: Path, samples: np.ndarray) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


async def test_a_tone_into_the_microphone_comes_out_of_the_speaker_after_the_echo(pulse: PulseServer) -> None:  # noqa: F811
    player = pulse.play_into_mic(sine(700, 8.0))
    monitor = pulse.record()
    notices = []
    mic = MicrophoneTrack(listener=notices.append)
    speaker = SpeakerSink(listener=notices.append)
    try:
        call = Call("embedded:echo", source=mic, sinks=[speaker], timeout=30)
        summary = await call.run(3.0)
        heard = monitor.samples()
        stats = speaker.stats()
    finally:
        monitor.stop()
        player.kill()
    assert notices == []
    assert mic.samplerate is not None and mic.blocks_captured > 100
    assert summary["final_state"] == "ended"
    # what went on the wire is what the microphone heard
    assert call.tx.peak_hz() == pytest.approx(700, abs=3)
    assert summary["rx_peak_hz"] == pytest.approx(700, abs=3)
    # and what the null sink played is the echo: the last second before hanging up
    last = heard[-2 * SAMPLE_RATE :]
    assert level_dbfs(last) > -30
    peaks = window_peaks(last)
    assert float(np.median(peaks)) == pytest.approx(700, abs=3)
    assert sum(abs(p - 700) < 5 for p in peaks) >= 0.6 * len(peaks), peaks
    assert stats is not None and stats.played_ms > 1000
    assert stats.target_ms == pytest.approx(60, abs=1)


async def test_the_stereo_recording_holds_sent_left_and_received_right(pulse: PulseServer, tmp_path: Path) -> None:  # noqa: F811
    # the tone agent answers with 440 Hz whatever it hears: two different tones, one per channel
    result = voicedesk(
        "call", "embedded:tone", "--source", "tone:600", "--duration", "2.5",
        "--record-stereo", str(tmp_path / "both.wav"), "--record-sent", str(tmp_path / "sent.wav"),
        "--record", str(tmp_path / "received.wav"), "--speaker",
        env=pulse.env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "speaker        default at" in result.stdout
    both = read_wav(tmp_path / "both.wav")
    assert both.shape[1] == 2 and both.shape[0] > 2 * SAMPLE_RATE
    middle = both[SAMPLE_RATE : 2 * SAMPLE_RATE]
    assert dominant_frequency(middle[:, 0]) == pytest.approx(600, abs=2)
    assert dominant_frequency(middle[:, 1]) == pytest.approx(440, abs=2)
    assert dominant_frequency(read_wav(tmp_path / "sent.wav")[:, 0]) == pytest.approx(600, abs=2)
    assert dominant_frequency(read_wav(tmp_path / "received.wav")[:, 0]) == pytest.approx(440, abs=2)


async def test_an_echo_lies_in_the_right_channel_one_round_trip_after_the_original(tmp_path: Path) -> None:
    burst = np.concatenate((np.zeros(SAMPLE_RATE), sine(1000, 0.3), np.zeros(SAMPLE_RATE)))
    write_wav(tmp_path / "burst.wav", burst)
    recorder = StereoRecorderSink(tmp_path / "both.wav")
    call = Call("embedded:echo", source=WavTrack(tmp_path / "burst.wav"), sinks=[recorder], timeout=30)
    call.outbound.add_observer(recorder.write_sent)
    await call.run(3.0)
    both = read_wav(tmp_path / "both.wav")
    left_on = int(np.argmax(np.abs(both[:, 0]) > 0.1))
    right_on = int(np.argmax(np.abs(both[:, 1]) > 0.1))
    assert left_on == pytest.approx(SAMPLE_RATE, abs=0.1 * SAMPLE_RATE)  # 1 s in, where the file has it
    delay_ms = (right_on - left_on) * 1000 / SAMPLE_RATE
    # loopback: encode, send, decode, re-encode, send back, decode; never before the original
    assert 0 < delay_ms < 500


def test_voicedesk_devices_lists_the_sound_servers_devices(pulse: PulseServer) -> None:  # noqa: F811
    result = voicedesk("devices", env=pulse.env)
    assert result.returncode == 0, result.stderr
    assert "input devices:" in result.stdout and "output devices:" in result.stdout
    assert "default" in result.stdout and "Hz" in result.stdout


async def test_devices_are_chosen_by_name_and_a_wrong_name_falls_back(pulse: PulseServer) -> None:  # noqa: F811
    result = voicedesk(
        "call", "embedded:echo", "--source", "mic", "--input-device", "pulse", "--output-device", "no such speaker",
        "--duration", "1", env=pulse.env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "microphone     pulse at" in result.stdout
    assert "no audio output device matches 'no such speaker'" in result.stderr
    assert "null sink" in result.stderr


async def test_mic_blocks_reach_the_loop_as_copies(pulse: PulseServer) -> None:  # noqa: F811
    player = pulse.play_into_mic(sine(500, 3.0))
    mic = MicrophoneTrack()
    try:
        frames = [await asyncio.wait_for(mic.recv(), 5) for _ in range(50)]
    finally:
        mic.stop()
        player.kill()
    assert all(f.sample_rate == SAMPLE_RATE and f.samples == 960 for f in frames)
    assert [f.pts for f in frames] == [i * 960 for i in range(50)]


async def test_an_unsupported_rate_is_a_message_and_the_device_runs_at_one_it_takes(pulse: PulseServer) -> None:  # noqa: F811
    notices: list[AudioDeviceNotice] = []
    mic = MicrophoneTrack(samplerate=1_000_000, listener=notices.append)
    speaker = SpeakerSink(samplerate=1_000_000, listener=notices.append)
    try:
        frame = await asyncio.wait_for(mic.recv(), 10)
    finally:
        mic.stop()
        speaker.close()
    assert len(notices) == 2
    assert notices[0].message.startswith("audio input #") and notices[1].message.startswith("audio output #")
    assert notices[0].message.endswith(f"refused 1000000 Hz; capturing at {mic.samplerate} Hz")
    assert notices[1].message.endswith(f"refused 1000000 Hz; playing at {speaker.samplerate} Hz")
    assert mic.device is not None and speaker.device is not None
    assert mic.samplerate == int(mic.device.default_samplerate)  # fell back to the device's own rate
    assert speaker.samplerate == int(speaker.device.default_samplerate)
    assert not mic.using_fallback and frame.sample_rate == SAMPLE_RATE


async def test_a_moment_of_the_received_audio_plays_on_the_speaker(pulse: PulseServer, tmp_path: Path) -> None:  # noqa: F811
    """What a click on a heard word does (the Conversation tab): that moment of the call's
    recording, on the call's clock, out of the speaker."""
    write_wav(tmp_path / "two.wav", np.concatenate((sine(600, 1.2), sine(1200, 1.2))))
    capture = CallCapture()
    call = Call.from_spec(
        CallSpec("embedded:echo", source=f"wav:{tmp_path / 'two.wav'}", timeout=30), extensions=[capture]
    )
    await call.run(3.5)
    assert capture.tx.start_time is not None
    sent_ms = call.now_ms() - (time.monotonic() - capture.tx.start_time) * 1000.0  # the file began, on the call's clock
    for start_ms, tone in ((1500, 1200), (300, 600)):  # the echo comes back within tens of ms
        monitor = pulse.record()
        try:
            await capture.play_received(sent_ms + start_ms, sent_ms + start_ms + 600)
            for _ in range(100):  # the monitor's reader may be a little behind the speaker on a loaded machine
                if (np.abs(monitor.samples()) > 0.05).sum() > 0.4 * SAMPLE_RATE:
                    break
                await asyncio.sleep(0.1)
            heard = monitor.samples()
        finally:
            monitor.stop()
        loud = np.flatnonzero(np.abs(heard) > 0.05)
        assert loud.size, f"nothing came out of the speaker for the moment at {start_ms} ms"
        peaks = window_peaks(heard[loud[0] : loud[-1]], window_s=0.1)
        assert peaks and np.median(peaks) == pytest.approx(tone, abs=5), (tone, peaks)
    with pytest.raises(VoiceDeskError, match=r"^nothing was received from 50\.00 s to 51\.00 s$"):
        capture.received_between(50_000, 51_000)
