"""PlayoutBuffer: prefill, underruns, overruns, and no drift between two clocks."""

import numpy as np
import pytest

from voicedesk.media.playout import PlayoutBuffer, PlayoutState

RATE = 48_000
FRAME = 960  # the network delivers 20 ms frames
BLOCK = 480  # the device asks for 10 ms


def run_clocks(buf: PlayoutBuffer, seconds: float, sender_ppm: float, jitter_frames: int = 0, seed: int = 1) -> list:
    """Sender and device on their own clocks; returns the depth (ms) seen once a second."""
    rng = np.random.default_rng(seed)
    sender_period = FRAME / RATE / (1 + sender_ppm * 1e-6)
    device_period = BLOCK / RATE
    next_send, next_pull, now = 0.0, 0.0, 0.0
    held: list[np.ndarray] = []  # frames stuck in the network (bursts)
    depths = []
    next_report = 1.0
    while now < seconds:
        if next_send <= next_pull:
            now = next_send
            held.append(np.full(FRAME, 0.1, dtype=np.float32))
            if len(held) > jitter_frames or rng.random() < 0.5:  # held back at most jitter_frames frames
                for frame in held:
                    buf.push(frame)
                held.clear()
            next_send += sender_period
        else:
            now = next_pull
            buf.pull(BLOCK)
            next_pull += device_period
        if now >= next_report:
            depths.append(buf.depth_ms)
            next_report += 1.0
    return depths


def test_prefills_to_the_target_before_playing() -> None:
    buf = PlayoutBuffer(RATE, target_ms=60)
    buf.push(np.ones(FRAME, dtype=np.float32))
    assert not buf.pull(BLOCK).any()  # 20 ms < 60 ms: still buffering, silence
    buf.push(np.ones(2 * FRAME, dtype=np.float32))
    assert buf.pull(BLOCK).all()
    assert buf.state == PlayoutState.PLAYING


def test_running_dry_is_one_underrun_when_audio_resumes() -> None:
    buf = PlayoutBuffer(RATE, target_ms=20)
    buf.push(np.ones(FRAME, dtype=np.float32))
    buf.pull(BLOCK)
    buf.pull(BLOCK)
    out = buf.pull(BLOCK)  # empty: silence, back to buffering
    assert not out.any() and buf.state == PlayoutState.BUFFERING
    assert buf.underruns == 0  # the stream may simply have ended
    buf.push(np.ones(FRAME, dtype=np.float32))
    assert buf.underruns == 1


def test_a_burst_past_the_maximum_is_an_overrun_and_cuts_back_to_the_target() -> None:
    buf = PlayoutBuffer(RATE, target_ms=60, max_ms=200)
    buf.push(np.ones(int(RATE * 0.5), dtype=np.float32))
    stats = buf.stats()
    assert stats.overruns == 1
    assert stats.depth_ms == pytest.approx(60, abs=1)
    assert stats.dropped_ms == pytest.approx(440, abs=1)


@pytest.mark.parametrize("ppm", [+500, -500])
def test_clock_drift_does_not_move_the_delay(ppm: float) -> None:
    # 0.05 % apart for 10 minutes is 300 ms of drift: without correction the
    # buffer would overrun (sender fast) or run dry every few seconds (slow)
    buf = PlayoutBuffer(RATE, target_ms=60, max_ms=300)
    depths = run_clocks(buf, 600, ppm)
    stats = buf.stats()
    assert stats.overruns == 0
    assert stats.underruns == 0
    # the low point is held within target ± tolerance (10 ms); a frame (20 ms) and a device block (10 ms) on top
    assert max(depths[5:]) < 60 + 10 + 20 + 10 + 1
    assert min(depths[5:]) > 60 - 10 - 10 - 1
    corrected = stats.dropped_ms if ppm > 0 else stats.inserted_ms
    assert corrected == pytest.approx(600 * abs(ppm) * 1e-3, rel=0.2)


def test_jitter_is_absorbed_without_underruns() -> None:
    buf = PlayoutBuffer(RATE, target_ms=80)
    run_clocks(buf, 60, 0, jitter_frames=2)  # frames arrive up to 40 ms late, in bursts of up to 3
    assert buf.stats().underruns == 0


def test_a_burst_after_a_stall_is_cut_back_within_seconds() -> None:
    buf = PlayoutBuffer(RATE, target_ms=60, max_ms=1000)
    run_clocks(buf, 5, 0)
    buf.push(np.full(int(RATE * 0.2), 0.1, dtype=np.float32))  # 200 ms arrive at once after a stall
    depths = run_clocks(buf, 10, 0)
    assert depths[0] > 200
    assert max(depths[-3:]) < 60 + 10 + 20 + 10 + 1
    assert buf.stats().overruns == 0
