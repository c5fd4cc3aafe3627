"""Which impairment each repeated run is placed with (qa/repeat.py)."""

from __future__ import annotations

from voicedesk.qa.repeat import impaired, run_impairment
from voicedesk.qa.scenario import parse_scenarios
from voicedesk.rtc.impair import Impairment, ImpairmentSpec

SCENARIO = """
name: lossy-some-runs
target: embedded:echo
impair: {impair}
impair_runs: {{share: 0.5, impair: up.loss=100%}}
steps:
  - say: hello
"""


def test_impair_runs_adds_to_the_scenarios_own_impairment():
    [scenario] = parse_scenarios(SCENARIO.format(impair="delay=40ms,loss=2%"), "lossy.yaml")
    picked = [s for s in range(20) if impaired(scenario, s) is not None]
    assert 0 < len(picked) < 20  # a seeded share: some runs of each kind
    for seed in range(20):
        spec = ImpairmentSpec.parse(run_impairment(scenario, seed) or "")
        if seed in picked:  # the scenario's network, and the runs' impairment on top (its loss wins)
            assert spec.up == Impairment(loss_pct=100.0, delay_ms=40.0)
            assert spec.down == Impairment(loss_pct=2.0, delay_ms=40.0)
        else:  # the scenario's own network alone
            assert spec.up == spec.down == Impairment(loss_pct=2.0, delay_ms=40.0)


def test_a_preset_named_in_impair_keeps_its_figures_under_impair_runs():
    [scenario] = parse_scenarios(SCENARIO.format(impair="Satellite"), "satellite.yaml")
    seed = next(s for s in range(20) if impaired(scenario, s) is not None)
    spec = ImpairmentSpec.parse(run_impairment(scenario, seed) or "")
    assert spec.up == Impairment(loss_pct=100.0, delay_ms=300.0, jitter_ms=20.0)
    assert spec.down == Impairment(loss_pct=1.0, delay_ms=300.0, jitter_ms=20.0)
