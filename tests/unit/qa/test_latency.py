"""Speech found in timed recordings: onsets and ends to within a frame, on a controlled clock."""

from __future__ import annotations

import numpy as np
import pytest

from voicedesk.media.pcm import SAMPLE_RATE
from voicedesk.qa.latency import TimedRecorder, Turn, speech_runs, voice_to_voice_text

BLOCK = 960  # 20 ms, as aiortc delivers


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def feed(recorder: TimedRecorder, clock: FakeClock, audio: np.ndarray, jitter_s: float = 0.0) -> None:
    """Blocks arrive every 20 ms (plus an optional fixed arrival delay pattern)."""
    rng = np.random.default_rng(1)
    for i in range(0, audio.size, BLOCK):
        clock.now = 100.0 + i / SAMPLE_RATE + (rng.uniform(0, jitter_s) if jitter_s else 0.0)
        recorder.write(audio[i : i + BLOCK])


def signal(parts: list[tuple[float, float]]) -> np.ndarray:
    """(seconds, amplitude) pieces: 0 is near-silence, >0 a 300 Hz 'voice'."""
    rng = np.random.default_rng(7)
    out = []
    for seconds, amplitude in parts:
        n = int(seconds * SAMPLE_RATE)
        t = np.arange(n) / SAMPLE_RATE
        noise = rng.normal(0, 1e-4, n)  # a decoder's near-silence
        out.append((amplitude * np.sin(2 * np.pi * 300 * t) + noise).astype(np.float32))
    return np.concatenate(out)


def test_runs_start_and_end_where_the_sound_does():
    clock = FakeClock()
    rec = TimedRecorder(clock)
    feed(rec, clock, signal([(0.5, 0), (1.2, 0.2), (1.0, 0), (0.8, 0.05), (0.7, 0)]))
    runs = speech_runs(rec, hang_ms=500)
    assert len(runs) == 2
    assert runs[0].start == pytest.approx(100.5, abs=0.011)
    assert runs[0].end == pytest.approx(101.7, abs=0.011)
    assert runs[1].start == pytest.approx(102.7, abs=0.011)
    assert runs[1].end == pytest.approx(103.5, abs=0.011)


def test_short_pauses_join_and_clicks_are_not_speech():
    clock = FakeClock()
    rec = TimedRecorder(clock)
    # a 30 ms click, then two words 200 ms apart
    feed(rec, clock, signal([(0.5, 0), (0.03, 0.3), (0.5, 0), (0.4, 0.2), (0.2, 0), (0.4, 0.2), (0.8, 0)]))
    runs = speech_runs(rec, hang_ms=500, min_speech_ms=60)
    assert len(runs) == 1
    assert runs[0].start == pytest.approx(100.0 + 1.03, abs=0.011)
    assert runs[0].end == pytest.approx(100.0 + 2.03, abs=0.011)


def test_a_run_still_going_has_no_end_and_a_window_limits_the_search():
    clock = FakeClock()
    rec = TimedRecorder(clock)
    feed(rec, clock, signal([(0.4, 0), (0.6, 0.2), (0.6, 0), (1.0, 0.2)]))
    runs = speech_runs(rec, hang_ms=500)
    assert runs[-1].end is None
    later = speech_runs(rec, start_t=101.2, hang_ms=500)
    assert len(later) == 1 and later[0].start == pytest.approx(101.6, abs=0.011)


def test_times_follow_arrival_not_sample_count():
    """A received block stamped late moves the onset with it: latency is measured as heard."""
    clock = FakeClock()
    rec = TimedRecorder(clock)
    audio = signal([(0.5, 0), (0.5, 0.2), (0.6, 0)])
    for i in range(0, audio.size, BLOCK):
        clock.now = 100.0 + i / SAMPLE_RATE + (0.25 if i >= 0.5 * SAMPLE_RATE else 0.0)  # a 250 ms stall
        rec.write(audio[i : i + BLOCK])
    [run] = speech_runs(rec, hang_ms=300)
    assert run.start == pytest.approx(100.75, abs=0.011)


def test_segments_cut_the_audio_by_time():
    clock = FakeClock()
    rec = TimedRecorder(clock)
    feed(rec, clock, signal([(1.0, 0), (1.0, 0.2)]))
    seg = rec.segment(101.0, 101.5)
    assert seg.size == pytest.approx(0.5 * SAMPLE_RATE, abs=BLOCK)
    assert np.abs(seg).max() > 0.15


def test_turn_latencies():
    turn = Turn(1, "hi", utterance_start=10.0, utterance_end=11.0, reply_start=11.8, reply_end=13.0)
    turn.barge_in_at = 12.2
    assert turn.voice_to_voice_ms == pytest.approx(800)
    assert turn.response_ms == pytest.approx(1800)
    assert turn.reply_ms == pytest.approx(1200)
    assert turn.barge_in_stop_ms == pytest.approx(800)
    data = turn.to_json(t0=10.0)
    assert data["utterance_end_ms"] == 1000.0 and data["reply_start_ms"] == 1800.0
    assert Turn(2, "x", 1.0, 2.0).voice_to_voice_ms is None


def test_a_recording_stops_at_its_limit_and_says_so():
    clock = FakeClock()
    rec = TimedRecorder(clock, max_seconds=1.0)
    feed(rec, clock, signal([(2.0, 0.2)]))
    assert rec.total == SAMPLE_RATE and rec.truncated
    assert rec.audio().size == SAMPLE_RATE


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (None, "n/a"),
        (992.8, "993 ms"),
        (0.0, "0 ms"),
        (-877.5, "-878 ms (the reply began before the utterance ended)"),
    ],
)
def test_voice_to_voice_reads_as_what_happened(ms, text):
    assert voice_to_voice_text(ms) == text
