import random

import pytest

from voicedesk.errors import ConfigError
from voicedesk.rtc.impair import Impairment, ImpairmentSpec, _Shaper


def test_a_figure_without_direction_applies_each_way():
    spec = ImpairmentSpec.parse("loss=5%,delay=80ms,jitter=20ms")
    assert spec.up == spec.down == Impairment(loss_pct=5, delay_ms=80, jitter_ms=20)
    assert spec.describe() == "each way: loss 5%, delay 80 ms, jitter 20 ms"


def test_directions_units_and_caps():
    spec = ImpairmentSpec.parse("up.loss=2%, down.delay=0.1s, rate=1mbit, burst=3")
    assert spec.up == Impairment(loss_pct=2, burst=3, rate_kbps=1000)
    assert spec.down == Impairment(delay_ms=100, burst=3, rate_kbps=1000)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("loss=five", "bad impairment 'loss=five'"),
        ("loss=150%", "loss must be 0–100 %"),
        ("delay=5parsecs", "bad unit 'parsecs'"),
        ("sideways.loss=1", "bad impairment 'sideways.loss=1'"),
        ("burst=0.5", "burst is a mean length in packets"),
    ],
)
def test_bad_figures_say_what_is_wrong(text, message):
    with pytest.raises(ConfigError, match=message):
        ImpairmentSpec.parse(text)


@pytest.mark.parametrize("burst", [1.0, 4.0])
def test_loss_model_keeps_the_long_run_rate_and_the_burst_length(burst):
    shaper = _Shaper(Impairment(loss_pct=10, burst=burst), random.Random(7))
    outcomes = [shaper.lose() for _ in range(200_000)]
    assert sum(outcomes) / len(outcomes) == pytest.approx(0.10, abs=0.01)
    bursts, run = [], 0
    for lost in outcomes:
        if lost:
            run += 1
        elif run:
            bursts.append(run)
            run = 0
    mean_burst = sum(bursts) / len(bursts)
    expected = 1 / (1 - 0.10) if burst == 1 else burst  # independent losses still cluster a little
    assert mean_burst == pytest.approx(expected, rel=0.1)


def test_rate_cap_spaces_packets_and_tail_drops_past_half_a_second():
    shaper = _Shaper(Impairment(rate_kbps=80), random.Random(1))
    departures = [shaper.departure(0.0, 1000) for _ in range(10)]  # 1000 bytes = 100 ms at 80 kbit/s
    assert departures[:5] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])
    assert None in departures
