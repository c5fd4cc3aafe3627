"""``voicedesk test`` against the embedded agents, run as a user runs it (a real process).

Scenarios that pass (voice, parrot, echo), scenarios whose expectations the agents cannot
meet (they must fail, and the JUnit file says where), bad files rejected before any call,
golden calls, and report bundles after a test.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.helpers.net import free_port
from tests.helpers.processes import voicedesk
from voicedesk.qa.runner import run_scenario
from voicedesk.qa.scenario import parse_scenarios

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "scenarios"

pytestmark = pytest.mark.timeout(240)


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def test_scenarios_against_voice_and_parrot_pass_with_a_junit_file(tmp_path):
    junit = tmp_path / "results.xml"
    done = voicedesk(
        "test",
        str(EXAMPLES / "voice_weather.yaml"),
        str(EXAMPLES / "parrot_repeat.yaml"),
        "--junit",
        str(junit),
        "--json",
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "2 of 2 scenario(s) passed" in done.stderr
    out = last_json(done.stdout)
    assert out["passed"] is True
    voice, parrot = out["scenarios"]
    # voice: the reply was heard, recognized, and timed at this end beside the agent's own timing
    turn = voice["turns"][0]
    assert "sunny" in turn["transcript"]
    assert 100 < turn["voice_to_voice_ms"] < 4000
    agent_v2v = turn["agent"]["latency_ms"]["voice_to_voice"]
    # what the caller hears comes after what the agent sent: transport and buffers are on top
    assert turn["voice_to_voice_ms"] > agent_v2v
    assert voice["turns"][1]["barge_in_stop_ms"] is not None and voice["turns"][1]["barge_in_stop_ms"] < 2000
    assert "one two three" in parrot["turns"][0]["transcript"]

    root = ET.parse(junit).getroot()
    suite = root.find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "0" and suite.get("errors") == "0"
    names = [c.get("name") for c in suite.findall("testcase")]
    assert names == ["voice-weather", "parrot-repeat"]
    assert all(c.find("failure") is None for c in suite.findall("testcase"))


def test_expectations_the_agents_cannot_meet_fail_and_say_where(tmp_path):
    junit = tmp_path / "results.xml"
    done = voicedesk("test", str(EXAMPLES / "must_fail.yaml"), "--junit", str(junit), timeout=120)
    assert done.returncode == 1
    assert "0 of 2 scenario(s) passed" in done.stderr
    assert "FAIL step 4 (line 8): expected reply transcript contains 'raining'; measured 'the weather" in done.stderr
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "2"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    wrong = cases["voice-wrong-answer"].find("failure")
    assert wrong.get("message").startswith("step 4 (line 8): expected reply transcript contains 'raining'")
    assert "FAIL step 5 (line 9): expected voice_to_voice_ms <= 50" in wrong.text
    tone = cases["tone-never-stops"].find("failure")
    assert "still talking 3 s after being talked over" in tone.get("message")


def test_a_bad_scenario_is_rejected_before_any_call(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("target: embedded:echo\nsteps:\n  - say: {tone: 440}\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("target: embedded:echo\nsteps:\n  - say: hello\n  - wait_reply: {timeout: soon}\n")
    started = time.monotonic()
    done = voicedesk("test", str(good), str(bad), timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"voicedesk: {bad}:4: step 2 (wait_reply).timeout: expected a number, got text ('soon')"
    )
    assert "…" not in done.stderr  # no scenario started
    assert time.monotonic() - started < 30
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("target: embedded:echo\nsteps:\n  - dance: now\n")
    done = voicedesk("test", str(unknown), timeout=60)
    assert done.returncode == 1 and f"voicedesk: {unknown}:3: step 1: unknown step 'dance'" in done.stderr
    notarget = tmp_path / "notarget.yaml"
    notarget.write_text("steps: [hangup]\n")
    done = voicedesk("test", str(notarget), timeout=60)
    assert done.returncode == 1 and "no target: add 'target:' to the scenario or pass --target" in done.stderr


def test_an_unreachable_target_is_an_error_in_the_junit_file(tmp_path):
    junit = tmp_path / "r.xml"
    scenario = tmp_path / "s.yaml"
    scenario.write_text("timeout: 5\nsteps:\n  - say: {tone: 440}\n")
    done = voicedesk("test", str(scenario), "--target", f"http://127.0.0.1:{free_port()}/offer", "--junit", str(junit))
    assert done.returncode == 1
    case = ET.parse(junit).getroot().find("testsuite/testcase")
    assert case.find("error") is not None and "127.0.0.1" in case.find("error").get("message")


async def test_client_side_latency_follows_the_agents_real_delay():
    """The parrot waits ``delay`` ms before playing back: 1500 ms more delay is 1500 ms more, as heard."""
    scenarios = {}
    for delay in (200, 1700):
        text = (
            f"target: embedded:parrot?delay={delay}\nsteps:\n  - silence: 0.3\n  - say: testing one two three\n"
            "  - wait_reply: {timeout: 15}\n"
        )
        [scenarios[delay]] = parse_scenarios(text, f"parrot-{delay}.yaml")
    # both at once: the same load for both runs
    results = dict(zip(scenarios, await asyncio.gather(*map(run_scenario, scenarios.values())), strict=True))
    for result in results.values():
        assert result.passed, result.to_json()
    measured = {delay: result.turns[0]["voice_to_voice_ms"] for delay, result in results.items()}
    assert measured[1700] - measured[200] == pytest.approx(1500, abs=400)  # two runs on a loaded machine


def test_golden_calls_are_saved_then_compared(tmp_path):
    scenario = tmp_path / "echo.yaml"
    shutil.copy(EXAMPLES / "echo_network.yaml", scenario)
    golden = tmp_path / "golden"
    saved = voicedesk("test", str(scenario), "--golden", str(golden), "--update-golden", timeout=120)
    assert saved.returncode == 0, saved.stderr
    path = golden / "echo-network.golden.json"
    assert path.exists() and "golden call saved" in saved.stderr
    baseline = json.loads(path.read_text())
    measured = baseline["turns"][0]["response_ms"]
    assert measured is not None

    same = voicedesk("test", str(scenario), "--golden", str(golden), "--json", timeout=120)
    assert same.returncode == 0, same.stderr
    diffs = last_json(same.stdout)["scenarios"][0]["golden"]["differences"]
    assert any(d["what"] == "turn 1 response_ms" and not d["failed"] for d in diffs)

    # a baseline that was much faster: this run is now past the tolerance (500 ms by default)
    baseline["turns"][0]["response_ms"] = measured - 2000.0
    path.write_text(json.dumps(baseline))
    slower = voicedesk("test", str(scenario), "--golden", str(golden), "--json", timeout=120)
    assert slower.returncode == 1
    assert "FAIL golden turn 1 response_ms" in slower.stderr
    result = last_json(slower.stdout)["scenarios"][0]
    assert result["passed"] is False and all(c["passed"] for c in result["checks"])


def test_a_test_run_exports_its_report(tmp_path):
    bundle = tmp_path / "report"
    done = voicedesk("test", str(EXAMPLES / "echo_network.yaml"), "--report", str(bundle), timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads((bundle / "result.json").read_text())
    assert result["passed"] is True and result["name"] == "echo-network"
    # an echo starts while the tone still plays: a negative voice-to-voice, said as such
    assert "measured reply began " in done.stderr and " ms before the utterance ended (voice to voice -" in done.stderr
    assert "ms (the reply began before the utterance ended); heard" in done.stderr
    assert (bundle / "report.html").read_text().count("<svg") >= 6
    rows = (bundle / "stats.csv").read_text().splitlines()
    assert rows[0].startswith("t_ms,") and len(rows) >= 2


def test_call_exports_a_masked_report_bundle(tmp_path):
    bundle = tmp_path / "call.zip"
    done = voicedesk("call", "embedded:echo", "--duration", "2", "--report", str(bundle), "--mask", timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"call report written to {bundle}" in done.stderr
    import zipfile

    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        offer = archive.read("offer.sdp").decode()
        summary = json.loads(archive.read("summary.json"))
        log = archive.read("call.log").decode()
    assert {"offer.sdp", "answer.sdp", "sent.wav", "received.wav", "report.html", "stats.csv"} <= names
    assert "127.0.0.1" not in offer and "typ host" in offer and "ip-1" in offer
    assert "127.0.0.1" not in log and "call connected" in log
    assert summary["packets_received"] > 0


def test_an_agent_over_http_is_measured_at_this_end(tmp_path):
    """No agent events over plain HTTP signaling: the latency comes from the audio alone."""
    from tests.helpers.processes import serve

    with serve("--agent", "voice") as (base_url, _):
        done = voicedesk(
            "test",
            str(EXAMPLES / "voice_weather.yaml"),
            "--target",
            f"{base_url}/api/voice/offer",
            "--json",
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    [result] = last_json(done.stdout)["scenarios"]
    turn = result["turns"][0]
    assert turn["agent"] is None  # the agent reported nothing
    assert 100 < turn["voice_to_voice_ms"] < 4000 and "sunny" in turn["transcript"]
    assert result["target"].startswith("http://127.0.0.1:")
