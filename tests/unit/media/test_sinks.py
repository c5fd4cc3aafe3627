"""StereoRecorderSink: left sent, right received, placed on one clock; playable at any moment."""

import wave
from pathlib import Path

import numpy as np

from voicedesk.media.sinks import StereoRecorderSink

RATE = 48_000
FRAME = 960


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def read(path: Path) -> np.ndarray:
    with wave.open(str(path)) as wav:
        assert wav.getnchannels() == 2 and wav.getframerate() == RATE
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    return data.astype(np.float32) / 32768.0


def onset(channel: np.ndarray) -> int:
    return int(np.argmax(np.abs(channel) > 0.05))


def test_an_echo_sits_one_round_trip_after_its_original(tmp_path: Path) -> None:
    clock = FakeClock()
    rec = StereoRecorderSink(tmp_path / "both.wav", clock=clock)
    frames = [np.full(FRAME, 0.5 if 25 <= i < 50 else 0.0, dtype=np.float32) for i in range(100)]
    rtt_frames = 6  # 120 ms
    for i in range(100 + rtt_frames):
        clock.now += FRAME / RATE
        if i < 100:
            rec.write_sent(frames[i])
        if i >= rtt_frames:
            rec.write(frames[i - rtt_frames])
    rec.close()
    audio = read(tmp_path / "both.wav")
    left, right = audio[:, 0], audio[:, 1]
    assert onset(left) == 25 * FRAME
    assert abs(onset(right) - onset(left) - rtt_frames * FRAME) <= 1


def test_a_silent_peer_still_gives_a_full_length_file(tmp_path: Path) -> None:
    clock = FakeClock()
    rec = StereoRecorderSink(tmp_path / "one-sided.wav", clock=clock)
    for _ in range(100):  # 2 s of sent audio, nothing ever received
        clock.now += FRAME / RATE
        rec.write_sent(np.full(FRAME, 0.25, dtype=np.float32))
    # before closing, everything older than the hold is already on disk and the header says so
    audio = read(tmp_path / "one-sided.wav")
    assert audio.shape[0] >= 100 * FRAME - int(0.3 * RATE) - FRAME
    assert not audio[:, 1].any()
    rec.close()
    assert read(tmp_path / "one-sided.wav").shape[0] == 100 * FRAME


def test_a_stall_in_the_received_audio_becomes_silence_not_a_shift(tmp_path: Path) -> None:
    clock = FakeClock()
    rec = StereoRecorderSink(tmp_path / "stall.wav", clock=clock)
    for i in range(100):
        clock.now += FRAME / RATE
        rec.write_sent(np.full(FRAME, 0.25, dtype=np.float32))
        if not 40 <= i < 60:  # 400 ms with nothing received (lost, or the peer stalled)
            rec.write(np.full(FRAME, 0.5 if i == 80 else 0.1, dtype=np.float32))
    rec.close()
    audio = read(tmp_path / "stall.wav")
    marked = np.flatnonzero(audio[:, 1] > 0.4)
    assert abs(int(marked[0]) - 80 * FRAME) <= FRAME  # audio after the stall is still at its own time
    assert not audio[45 * FRAME : 55 * FRAME, 1].any()
