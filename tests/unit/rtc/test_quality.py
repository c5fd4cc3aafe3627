import pytest

from voicedesk.rtc.quality import estimate_mos, mos_from_r, r_factor


def test_a_clean_lan_call_scores_near_the_top():
    estimate = estimate_mos(rtt_ms=2.0, jitter_ms=0.5, loss_pct=0.0)
    assert estimate is not None and estimate.rtt_known
    assert 4.3 <= estimate.mos <= 4.41
    assert estimate.one_way_delay_ms == pytest.approx(1 + 1 + 26.5)


def test_published_reference_points():
    # R = 93.2 with no impairment is the G.107 default, MOS ≈ 4.41
    assert mos_from_r(93.2) == pytest.approx(4.41, abs=0.01)
    # the delay knee: 177.3 ms one way costs 0.024 * 177.3 = 4.26 R points
    assert r_factor(177.3, 0) == pytest.approx(93.2 - 4.2552, abs=1e-3)
    assert r_factor(300, 0) == pytest.approx(93.2 - 7.2 - 0.11 * (300 - 177.3), abs=1e-3)


def test_loss_and_delay_lower_the_score_monotonically():
    scores = [estimate_mos(100, 10, loss).mos for loss in (0, 1, 3, 5, 10, 20)]
    assert scores == sorted(scores, reverse=True)
    assert estimate_mos(100, 10, 5).mos < 4.0
    assert estimate_mos(700, 10, 0).mos < estimate_mos(100, 10, 0).mos


def test_no_score_before_anything_was_received():
    assert estimate_mos(None, None, None) is None
    without_rtt = estimate_mos(None, 2.0, 0.0)
    assert without_rtt is not None and not without_rtt.rtt_known
