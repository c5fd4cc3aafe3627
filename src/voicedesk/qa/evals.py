"""Repeated runs summed up: pass rates, failures by kind, latency distributions, flaky scenarios.

Works on the runs' JSON (what ``--results DIR`` keeps, one line per run), so a summary can
be made again from the files and ``voicedesk compare`` reads the same thing. Judged
expectations (an LLM's opinion) keep their ``judged`` label here too.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from voicedesk.errors import ConfigError
from voicedesk.qa.stats import distribution, wilson

RUNS_FILE = "runs.jsonl"
SUMMARY_FILE = "summary.json"

TIMING_CHECKS = {
    "setup_ms",
    "first_audio_ms",
    "voice_to_voice_ms",
    "max_voice_to_voice_ms",
    "response_ms",
    "reply_ms",
    "barge_in_stop_ms",
}
NETWORK_CHECKS = {"loss_pct", "jitter_ms", "rtt_ms", "mos", "rx_gap_ms"}
# the latencies summed up per scenario (each from audio, except setup)
LATENCIES = ("voice_to_voice_ms", "caller_response_ms", "setup_ms", "first_audio_ms")


def failure_kind(check: dict[str, Any]) -> str:
    """Why an expectation failed, in the words a report groups failures by."""
    kind = check.get("kind", "")
    if kind == "reply":
        return "no reply"
    if kind in TIMING_CHECKS:
        return "too slow"
    if kind in NETWORK_CHECKS:
        return "bad network"
    if kind in ("transcript", "agent_said", "expect_agent_transcript"):
        return "wrong words"
    if kind in ("tool_call", "expect_tool_call"):  # the agent-events work's check kinds
        return "tool not called"
    if kind == "expect_event":
        return "event not seen"
    if kind == "judged":
        return "judge failed" if check.get("measured") == "judge failed" else "judge said no"
    if kind == "goal":
        return "goal not reached"
    if kind == "caller":
        return "caller looped"
    if kind == "barge_in":
        return "kept talking"
    return kind or "failed"


def run_failure_kinds(run: dict[str, Any]) -> list[str]:
    if run.get("error"):
        error = str(run["error"])
        return ["caller failed" if "caller's LLM" in error else "call failed"]
    return sorted({failure_kind(c) for c in run.get("checks", []) if not c.get("passed")})


def check_where(check: dict[str, Any]) -> str:
    """``step 3``; a conversation's checks (step 0) by their kind: ``caller``, ``goal``, ``judged``."""
    return f"step {check['step']}" if check.get("step") else str(check.get("kind"))


def expectation_key(check: dict[str, Any]) -> str:
    return f"{check_where(check)} (line {check.get('line')}): {check.get('expected')}"


def latencies(run: dict[str, Any]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in LATENCIES}
    for turn in run.get("turns", []):
        v = turn.get("voice_to_voice_ms")
        if v is not None:
            out["voice_to_voice_ms"].append(float(v))
    for turn in (run.get("conversation") or {}).get("turns", []):
        v = turn.get("caller_response_ms")
        if v is not None:
            out["caller_response_ms"].append(float(v))
    for name in ("setup_ms", "first_audio_ms"):
        if run.get(name) is not None:
            out[name].append(float(run[name]))
    return out


def pooled_latencies(runs: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Every run's latencies, metric by metric."""
    pooled: dict[str, list[float]] = {name: [] for name in LATENCIES}
    for run in runs:
        for metric, values in latencies(run).items():
            pooled[metric].extend(values)
    return pooled


def by_scenario(runs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The runs grouped by scenario name, in the order first seen."""
    out: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        out.setdefault(str(run.get("name")), []).append(run)
    return out


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One summary per scenario (by name, in the order first seen)."""
    return [summarize_scenario(name, rs) for name, rs in by_scenario(runs).items()]


def summarize_scenario(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    total = len(runs)
    passed = sum(1 for r in runs if r.get("passed"))
    low, high = wilson(passed, total)
    expectations: dict[str, dict[str, Any]] = {}
    failures: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    ended: Counter[str] = Counter()
    for run in runs:
        failures.update(run_failure_kinds(run))
        if run.get("error"):
            errors[str(run["error"])] += 1
        for check in run.get("checks", []):
            key = expectation_key(check)
            entry = expectations.setdefault(
                key, {"expectation": key, "kind": check.get("kind"), "judged": check.get("kind") == "judged", "runs": 0}
            )
            entry["runs"] += 1
            entry["passed"] = entry.get("passed", 0) + (1 if check.get("passed") else 0)
        conversation = run.get("conversation")
        if conversation:
            ended[str(conversation.get("ended"))] += 1
    for entry in expectations.values():
        entry["pass_rate"] = round(entry["passed"] / entry["runs"], 4)
    return {
        "name": name,
        "scenario": runs[0].get("scenario") if runs else None,
        "runs": total,
        "passed": passed,
        "pass_rate": round(passed / total, 4) if total else 0.0,
        "pass_rate_interval": [round(low, 4), round(high, 4)],
        "flaky": 0 < passed < total,
        "expectations": list(expectations.values()),
        "failures": dict(failures.most_common()),
        "errors": dict(errors.most_common()),
        "latency_ms": {metric: distribution(values) for metric, values in pooled_latencies(runs).items() if values},
        "conversation_ended": dict(ended.most_common()),
        "impaired_runs": sum(1 for r in runs if r.get("impaired")),
    }


def passes(summary: dict[str, Any], min_pass_rate: float | None) -> bool:
    """A scenario's verdict over its runs: every run passed, or the rate is at least the minimum."""
    if min_pass_rate is None:
        return summary["passed"] == summary["runs"]
    return summary["pass_rate"] >= min_pass_rate - 1e-9


def summary_lines(summary: dict[str, Any], min_pass_rate: float | None = None) -> list[str]:
    """The summary as the terminal shows it."""
    low, high = summary["pass_rate_interval"]
    flaky = " FLAKY" if summary["flaky"] else ""
    verdict = "PASS" if passes(summary, min_pass_rate) else "FAIL"
    lines = [
        f"{verdict} {summary['name']}: {summary['passed']} of {summary['runs']} runs passed "
        f"({summary['pass_rate'] * 100:.0f} %, 95 % interval {low * 100:.0f}–{high * 100:.0f} %){flaky}"
    ]
    for e in summary["expectations"]:
        label = " [judged]" if e["judged"] else ""
        lines.append(f"  {e['passed']}/{e['runs']} {e['expectation']}{label}")
    if summary["failures"]:
        lines.append("  failures: " + ", ".join(f"{kind} ×{n}" for kind, n in summary["failures"].items()))
    for error, n in summary["errors"].items():
        lines.append(f"  error ×{n}: {error}")
    for metric, d in summary["latency_ms"].items():
        lines.append(f"  {metric}: p50 {d['p50']:.0f}, p90 {d['p90']:.0f}, max {d['max']:.0f} ms (n={d['n']})")
    for why, n in summary.get("conversation_ended", {}).items():
        lines.append(f"  conversation ended ×{n}: {why}")
    return lines


# --- results directories -------------------------------------------------------------
def write_run(directory: str | Path, run: dict[str, Any]) -> None:
    path = Path(directory) / RUNS_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(run, default=str, separators=(",", ":")) + "\n")
    except OSError as exc:
        raise ConfigError(f"cannot write the results to {path}: {exc.strerror or exc}") from None


def write_summary(directory: str | Path, summaries: list[dict[str, Any]]) -> None:
    path = Path(directory) / SUMMARY_FILE
    try:
        path.write_text(json.dumps({"scenarios": summaries}, indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the summary to {path}: {exc.strerror or exc}") from None


def read_runs(directory: str | Path) -> list[dict[str, Any]]:
    """The runs a ``--results DIR`` holds (a directory, or its runs.jsonl itself)."""
    path = Path(directory)
    if path.is_dir():
        path = path / RUNS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{directory}: no results here (expected {RUNS_FILE} from voicedesk test --results)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file; expected JSON lines from voicedesk test --results") from None
    runs = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            run = json.loads(line)
        except ValueError:
            raise ConfigError(f"{path}:{number}: not a JSON line (expected one run per line)") from None
        if not isinstance(run, dict) or "name" not in run or "passed" not in run:
            raise ConfigError(f"{path}:{number}: not a run (expected an object with name and passed)")
        runs.append(run)
    if not runs:
        raise ConfigError(f"{path}: no runs in it")
    return runs
