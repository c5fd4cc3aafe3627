"""qa/load.py: the arithmetic and bookkeeping of a load run (no calls placed here)."""

import pytest

from voicedesk.errors import ConfigError
from voicedesk.qa.load import CallResult, LoadPlan, LoadReport, _Tally, percentiles


def test_percentiles_use_the_nearest_rank():
    stats = percentiles([float(v) for v in range(1, 101)])
    assert stats == {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "min": 1.0, "max": 100.0, "mean": 50.5}
    assert percentiles([7.0])["p99"] == 7.0
    assert percentiles([]) is None


def test_plan_checks_and_spreads_calls():
    with pytest.raises(ConfigError, match="--calls"):
        LoadPlan("embedded:echo", calls=0).check()
    with pytest.raises(ConfigError, match="--ramp"):
        LoadPlan("embedded:echo", calls=1, ramp=0).check()
    plan = LoadPlan("embedded:echo", calls=3, ramp=4, processes=8)
    assert plan.process_count == 3  # never more processes than calls
    assert plan.start_offset(2) == 0.5


def ok(i: int, **kw) -> CallResult:
    return CallResult(i, ok=True, connected=True, setup_ms=40.0 + i, rx_fps=50.0, jitter_ms=1.0, loss_pct=0.0, **kw)


def test_a_failure_before_anything_connected_stops_the_run():
    tally = _Tally(LoadPlan("http://127.0.0.1:9/x", calls=10))
    tally.handle(("started", 0))
    assert tally.handle(("result", CallResult(0, ok=False, reason="connection refused"))) is True
    assert "connection refused" in tally.stopped_early


def test_a_failure_after_a_call_connected_is_just_a_failed_call():
    tally = _Tally(LoadPlan("http://x/y", calls=10))
    tally.handle(("connected", 0))
    assert tally.handle(("result", CallResult(1, ok=False, reason="HTTP 503 server busy"))) is False
    assert tally.stopped_early is None


def test_report_counts_and_reasons():
    plan = LoadPlan("http://x/y", calls=5)
    results = [ok(0), ok(1), CallResult(2, ok=False, reason="busy"), CallResult(3, ok=False, reason="busy")]
    report = LoadReport(plan, results, wall_s=3.0, processes=2)
    data = report.to_json()
    assert (data["calls"], data["succeeded"], data["failed"], data["not_placed"]) == (5, 2, 2, 1)
    assert data["failures"] == {"busy": 2}
    assert data["setup_ms"]["p50"] == 40.0 and data["meeting_quality_bar"] == 2
    assert not report.ok


def test_a_media_timeout_that_is_not_a_number_of_seconds_is_refused():
    LoadPlan("embedded:echo", calls=1, media_timeout=0).check()  # 0: not watched
    with pytest.raises(ConfigError, match="--media-timeout"):
        LoadPlan("embedded:echo", calls=1, media_timeout=float("nan")).check()
