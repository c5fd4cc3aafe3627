"""Golden calls: what a later run is compared on, and where the tolerance cuts; JUnit output."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from voicedesk.errors import ConfigError
from voicedesk.qa.golden import baseline_from, compare, golden_path, load_baseline, save_baseline
from voicedesk.qa.junit import junit_xml
from voicedesk.qa.scenario import GoldenPolicy


def result(v2v: float | None = 800.0, transcript: str = "the weather is sunny", setup: float = 150.0) -> dict:
    return {
        "name": "weather",
        "scenario": "s/weather.yaml:1",
        "target": "embedded:voice",
        "passed": True,
        "error": None,
        "duration_s": 4.2,
        "setup_ms": setup,
        "first_audio_ms": 2500.0,
        "checks": [],
        "turns": [
            {"said": "'what is the weather'", "voice_to_voice_ms": v2v, "response_ms": 2000.0, "transcript": transcript}
        ],
    }


def test_a_run_within_tolerance_passes_and_reports_its_differences():
    baseline = baseline_from(result())
    diffs = compare(baseline, result(v2v=1100.0, setup=140.0), GoldenPolicy(tolerance_ms=500))
    by_what = {d.what: d for d in diffs}
    assert by_what["turn 1 voice_to_voice_ms"].delta_ms == pytest.approx(300.0)
    assert by_what["setup_ms"].delta_ms == pytest.approx(-10.0)
    assert not any(d.failed for d in diffs)


def test_slower_than_tolerance_fails_faster_never_does():
    baseline = baseline_from(result())
    slow = compare(baseline, result(v2v=1400.0), GoldenPolicy(tolerance_ms=500))
    assert [d.what for d in slow if d.failed] == ["turn 1 voice_to_voice_ms"]
    assert "1400.0 ms vs golden 800.0 ms (+600.0 ms)" in next(d for d in slow if d.failed).describe()
    fast = compare(baseline, result(v2v=100.0), GoldenPolicy(tolerance_ms=500))
    assert not any(d.failed for d in fast)


def test_a_changed_transcript_or_a_missing_reply_fails():
    baseline = baseline_from(result())
    changed = compare(baseline, result(transcript="it is raining"), GoldenPolicy())
    assert [d.what for d in changed if d.failed] == ["turn 1 transcript"]
    assert not any(d.failed for d in compare(baseline, result(transcript="x"), GoldenPolicy(transcripts=False)))
    missing = compare(baseline, result(v2v=None), GoldenPolicy())
    assert "turn 1 voice_to_voice_ms" in [d.what for d in missing if d.failed]
    fewer = dict(result(), turns=[])
    assert "turns" in [d.what for d in compare(baseline, fewer, GoldenPolicy()) if d.failed]


def test_baselines_are_saved_and_checked(tmp_path):
    path = golden_path(tmp_path, "weather / today")
    assert path.name == "weather_today.golden.json"
    save_baseline(path, result())
    assert load_baseline(path)["turns"][0]["voice_to_voice_ms"] == 800.0
    bad = tmp_path / "bad.golden.json"
    bad.write_text('{"turns": []}')
    with pytest.raises(ConfigError, match="is not a golden call"):
        load_baseline(bad)
    with pytest.raises(ConfigError, match="cannot read the golden call"):
        load_baseline(tmp_path / "none.json")


def test_junit_has_a_testcase_per_scenario_with_failures_and_errors():
    passed = result()
    failed = dict(
        result(),
        name="slow",
        passed=False,
        checks=[
            {
                "step": 3,
                "line": 9,
                "kind": "voice_to_voice_ms",
                "expected": "voice_to_voice_ms <= 10",
                "measured": "800.0",
                "passed": False,
                "message": "",
            }
        ],
    )
    broken = dict(result(), name="down", passed=False, error="could not reach http://127.0.0.1:9/: connection refused")
    root = ET.fromstring(junit_xml([passed, failed, broken]))
    suite = root.find("testsuite")
    assert suite.get("tests") == "3" and suite.get("failures") == "1" and suite.get("errors") == "1"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases["weather"].find("failure") is None and cases["weather"].find("error") is None
    failure = cases["slow"].find("failure")
    assert failure.get("message") == "step 3 (line 9): expected voice_to_voice_ms <= 10, measured 800.0"
    assert cases["down"].find("error").get("message").startswith("could not reach")
    assert cases["weather"].get("classname") == "voicedesk.weather"
