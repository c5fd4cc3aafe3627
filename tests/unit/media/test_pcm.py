import numpy as np
import pytest

from voicedesk.media.pcm import (
    SAMPLE_RATE,
    SILENCE_DBFS,
    dominant_frequency,
    frame_to_mono,
    level_dbfs,
    mono_to_frame,
)
from voicedesk.media.ringbuffer import RingBuffer


def sine(freq: float, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(SAMPLE_RATE * seconds)) / SAMPLE_RATE
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("freq", [100.0, 440.0, 1000.0, 3333.3])
def test_dominant_frequency_finds_the_tone(freq):
    assert dominant_frequency(sine(freq)) == pytest.approx(freq, abs=0.5)


def test_silence_has_no_frequency_and_reads_floor_level():
    silence = np.zeros(48000, dtype=np.float32)
    assert dominant_frequency(silence) is None
    assert level_dbfs(silence) == SILENCE_DBFS


def test_level_of_a_full_scale_sine_is_minus_3_dbfs():
    assert level_dbfs(sine(1000, amp=1.0)) == pytest.approx(-3.01, abs=0.05)


def test_frame_round_trip_keeps_samples():
    samples = sine(440, 0.02)
    frame = mono_to_frame(samples, pts=960)
    assert frame.sample_rate == SAMPLE_RATE and frame.pts == 960 and frame.samples == 960
    assert np.allclose(frame_to_mono(frame), samples, atol=1 / 16384)


def test_ring_buffer_keeps_the_latest_samples_across_the_wrap():
    ring = RingBuffer(10)
    ring.write(np.arange(7, dtype=np.float32))
    ring.write(np.arange(7, 14, dtype=np.float32))
    assert ring.written == 14
    assert ring.latest(5).tolist() == [9, 10, 11, 12, 13]
    assert ring.latest(100).tolist() == list(range(4, 14))
    ring.write(np.arange(100, 125, dtype=np.float32))
    assert ring.latest(3).tolist() == [122, 123, 124]
    assert ring.written == 14 + 25  # a block larger than the ring still counts in full
    assert ring.latest(10).tolist() == list(range(115, 125))
