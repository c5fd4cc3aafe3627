"""Repeated runs summed up, their JUnit file, and two sets of runs compared (from run JSON)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from voicedesk.errors import ConfigError
from voicedesk.qa.compare import Thresholds, compare_runs
from voicedesk.qa.evals import read_runs, summarize, write_run
from voicedesk.qa.junit import repeat_junit_xml


def run(passed: bool, v2v: float, *, error: str | None = None, judged: bool | None = None, name: str = "s") -> dict:
    checks = [{"step": 2, "line": 5, "kind": "reply", "expected": "wait for the reply", "passed": passed}]
    if judged is not None:
        checks.append({"step": 0, "line": 9, "kind": "judged", "expected": "judged: polite", "passed": judged})
    return {
        "name": name,
        "scenario": "s.yaml:1",
        "passed": passed and error is None and judged is not False,
        "error": error,
        "setup_ms": 100.0,
        "checks": [] if error else checks,
        "turns": [{"voice_to_voice_ms": v2v}],
    }


def test_pass_rates_failure_kinds_latencies_and_flaky():
    runs = [run(True, 500 + i * 10, judged=True) for i in range(7)]
    runs += [run(False, 3000), run(True, 900, judged=False), run(False, 0, error="the call failed: ICE failed")]
    [s] = summarize(runs)
    assert (s["runs"], s["passed"], s["pass_rate"], s["flaky"]) == (10, 7, 0.7, True)
    assert s["failures"] == {"no reply": 1, "judge said no": 1, "call failed": 1}
    assert s["errors"] == {"the call failed: ICE failed": 1}
    reply, judged = s["expectations"]
    assert (reply["passed"], reply["runs"], reply["judged"]) == (8, 9, False)
    assert (judged["passed"], judged["runs"], judged["judged"]) == (7, 8, True)
    v2v = s["latency_ms"]["voice_to_voice_ms"]
    assert v2v["n"] == 10 and v2v["max"] == 3000 and v2v["p50"] == 535.0
    low, high = s["pass_rate_interval"]
    assert low < 0.7 < high


def test_junit_carries_the_pass_rate_and_labels_judged_expectations():
    runs = [run(True, 500, judged=True)] * 9 + [run(True, 500, judged=False)]
    summaries = summarize(runs)
    ok = ET.fromstring(repeat_junit_xml(summaries, 0.8).split("\n", 1)[1])
    case = ok.find("testsuite/testcase")
    assert case.find("failure") is None
    assert {p.get("name"): p.get("value") for p in case.find("properties")}["pass_rate"] == "0.9"
    assert "9/10 step 0" not in case.find("system-out").text and "[judged]" in case.find("system-out").text
    strict = ET.fromstring(repeat_junit_xml(summaries, None).split("\n", 1)[1])
    failure = strict.find("testsuite/testcase/failure")
    assert failure.get("message") == "pass rate 90 % (9 of 10 runs); wanted every run (flaky)"


def test_a_drop_in_pass_rate_and_slower_replies_are_regressions_only_when_significant():
    a = [run(True, 500 + i) for i in range(20)]
    worse = [run(i % 2 == 0, 900 + i) for i in range(20)]
    rows = compare_runs(a, worse, Thresholds())
    rate = next(r for r in rows if r.metric == "scenario passed")
    assert rate.regression and rate.p < 0.01
    latency = next(r for r in rows if r.metric == "voice_to_voice_ms")
    assert latency.regression and latency.p < 0.001 and latency.change.startswith("+400 ms")
    # one run each way: nothing is significant
    few = compare_runs([run(True, 500)], [run(False, 900)], Thresholds())
    assert not any(r.regression for r in few)


def test_results_are_json_lines_read_back_with_a_clear_error(tmp_path):
    write_run(tmp_path, run(True, 500))
    write_run(tmp_path, run(False, 600))
    assert [r["passed"] for r in read_runs(tmp_path)] == [True, False]
    (tmp_path / "runs.jsonl").write_text('{"name": "s", "passed": true}\nnot json\n')
    with pytest.raises(ConfigError, match=r"runs.jsonl:2: not a JSON line"):
        read_runs(tmp_path)
    with pytest.raises(ConfigError, match="no results here"):
        read_runs(tmp_path / "nowhere")


def test_a_single_runs_junit_names_judged_checks_as_judged():
    from voicedesk.qa.junit import junit_xml

    judged = {"step": 0, "line": 9, "kind": "judged", "expected": "judged: polite", "measured": "no"}
    result = {"name": "x", "scenario": "a.yaml:1", "passed": False, "error": None}
    xml = junit_xml([{**result, "checks": [{**judged, "passed": False, "message": "it was rude"}]}])
    failure = ET.fromstring(xml.split("\n", 1)[1]).find("testsuite/testcase/failure")
    assert failure.get("message") == "judged (line 9): expected judged: polite, measured no"
    assert failure.text == "FAIL judged (line 9): expected judged: polite; measured no — it was rude"
