"""load/slo.py: where a latency target broke, from Locust's per-window histograms."""

from collections import Counter
from types import SimpleNamespace

import pytest

from voicedesk.errors import ConfigError
from voicedesk.load.slo import SloWatch, parse_slo, percentile


def test_slo_text():
    slo = parse_slo("voice_to_voice_p90_ms=1500")
    assert (slo.request, slo.percentile, slo.limit_ms) == ("turn/voice_to_voice_ms", 90, 1500.0)
    with pytest.raises(ConfigError, match="METRIC_pNN_ms=LIMIT"):
        parse_slo("latency<1500")
    with pytest.raises(ConfigError, match="percentile 1–99"):
        parse_slo("setup_p0_ms=100")


def test_percentile_of_a_histogram():
    assert percentile(Counter({100: 8, 2000: 2}), 80) == 100
    assert percentile(Counter({100: 8, 2000: 2}), 90) == 2000
    assert percentile(Counter(), 90) is None


def test_the_first_window_over_the_limit_names_the_user_count():
    entry = SimpleNamespace(response_times=Counter())
    runner = SimpleNamespace(user_count=0, stats=SimpleNamespace(entries={("turn/voice_to_voice_ms", "x"): entry}))
    watch = SloWatch(SimpleNamespace(runner=runner), [parse_slo("voice_to_voice_p90_ms=1500")])
    for users, values in ((10, [800] * 5), (20, [900] * 4 + [1200]), (30, [1400, 1700, 1800, 1900]), (40, [3000])):
        runner.user_count = users
        entry.response_times.update(values)  # Locust's histogram only grows; the watch takes differences
        watch.look()
    (report,) = watch.report()
    assert report["broken_at_users"] == 30
    assert "broken at 30 concurrent callers (voice_to_voice p90 1900 ms" in report["verdict"]
    assert report["windows"][-1]["value_ms"] is None  # one value says nothing about a p90
