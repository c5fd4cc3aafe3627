"""Small-sample statistics, against values from their definitions and SciPy's documentation."""

from __future__ import annotations

import math

import pytest

from voicedesk.qa.stats import distribution, fisher_exact, mann_whitney, newcombe, percentile, wilson


def test_fishers_exact_test_matches_known_tables():
    assert fisher_exact(8, 2, 1, 5) == pytest.approx(0.034965, abs=1e-6)  # the tea-tasting style table
    assert fisher_exact(10, 0, 5, 5) == pytest.approx(0.032508, abs=1e-6)
    assert fisher_exact(5, 5, 5, 5) == pytest.approx(1.0)
    assert fisher_exact(0, 0, 0, 0) == 1.0
    # symmetric in A and B
    assert fisher_exact(3, 7, 9, 1) == pytest.approx(fisher_exact(9, 1, 3, 7))


def test_mann_whitney_is_exact_for_small_samples_without_ties():
    apart = mann_whitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert apart.exact and apart.u == 0 and apart.p == pytest.approx(2 / math.comb(10, 5))
    mixed = mann_whitney([1.1, 2.5, 3.3], [2.0, 4.0, 5.0, 6.0])
    assert mixed.exact and mixed.u == 2 and mixed.p == pytest.approx(8 / 35)
    same = mann_whitney([1, 2, 3], [1, 2, 3])  # ties: the normal approximation
    assert not same.exact and same.p == pytest.approx(1.0)
    assert mann_whitney([], [1.0]) is None


def test_wilson_and_newcombe_intervals():
    low, high = wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)
    low, high = newcombe(9, 10, 5, 10)  # B − A: down 40 points
    assert low < -0.4 < high < 0.05


def test_percentiles_interpolate_like_numpy():
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 50) == 25.0 and percentile(values, 90) == pytest.approx(37.0)
    assert distribution(values) == {"n": 4, "p50": 25.0, "p90": 37.0, "max": 40.0}
    assert distribution([]) == {"n": 0, "p50": None, "p90": None, "max": None}
