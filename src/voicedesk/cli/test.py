"""``voicedesk test SCENARIO.yaml…``: scripted test calls with pass/fail (docs/scenarios.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from voicedesk.cli._conditions import robustness_lines
from voicedesk.config import resolve_ice
from voicedesk.errors import VoiceDeskError
from voicedesk.qa.golden import compare, golden_path, load_baseline, save_baseline
from voicedesk.qa.junit import write_junit
from voicedesk.qa.latency import voice_to_voice_text
from voicedesk.qa.report import add_report_arguments, write_bundle
from voicedesk.qa.runner import ScenarioResult, run_scenario
from voicedesk.qa.scenario import Scenario, load_scenarios
from voicedesk.rtc.signaling import with_signaling_kind


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "test",
        help="run scenario files (say, wait for the reply, expect transcripts, latencies, network figures)",
        description="Run scripted test calls. Every file is checked before any call; exit status 0 only when "
        "every scenario passes. The format: docs/scenarios.md.",
    )
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO.yaml", help="scenario files (each may hold several)")
    p.add_argument("--target", help="call this target instead of the scenarios' own 'target:'")
    p.add_argument("--ice", metavar="CONFIG.json|PRESET", help="ICE configuration for every scenario")
    p.add_argument(
        "-H", "--header", action="append", default=[], metavar="'NAME: VALUE'", help="extra signaling header"
    )
    p.add_argument("--junit", metavar="OUT.xml", help="write a JUnit XML report (one testcase per scenario)")
    p.add_argument("--json", action="store_true", help="print one JSON object with every result on stdout")
    p.add_argument("--golden", metavar="DIR", help="compare each run with its golden call in DIR (NAME.golden.json)")
    p.add_argument(
        "--update-golden", action="store_true", help="save each passing run as its golden call in --golden DIR"
    )
    add_report_arguments(p)
    p.set_defaults(run=run)


def _print_result(result: dict[str, Any]) -> None:
    verdict = "PASS" if result["passed"] else "FAIL"
    print(f"{verdict} {result['name']} ({result['scenario']}, {result['duration_s']:.1f} s)", file=sys.stderr)
    if result.get("error"):
        print(f"  error: {result['error']}", file=sys.stderr)
    for check in result["checks"]:
        mark = "ok  " if check["passed"] else "FAIL"
        note = f" — {check['message']}" if check.get("message") else ""
        print(
            f"  {mark} step {check['step']} (line {check['line']}): expected {check['expected']}; "
            f"measured {check['measured']}{note}",
            file=sys.stderr,
        )
    for turn in result["turns"]:
        agent = (turn.get("agent") or {}).get("latency_ms") or {}
        own = f", agent's own {agent['voice_to_voice']:.0f} ms" if agent.get("voice_to_voice") is not None else ""
        v2v = turn.get("voice_to_voice_ms")
        print(
            f"  turn {turn['index']}: said {turn['said']}; voice-to-voice "
            f"{voice_to_voice_text(v2v)}{own}; heard {turn.get('transcript')!r}",
            file=sys.stderr,
        )
    for line in robustness_lines(result.get("summary") or {}):  # a scenario with conditions: its table
        print(f"  {line}", file=sys.stderr)
    golden = result.get("golden")
    if golden:
        for diff in golden["differences"]:
            mark = "FAIL" if diff["failed"] else "    "
            delta = f" ({diff['delta_ms']:+.0f} ms)" if diff["delta_ms"] is not None else ""
            print(f"  {mark} golden {diff['what']}: {diff['measured']} vs {diff['golden']}{delta}", file=sys.stderr)
        if golden.get("saved"):
            print(f"  golden call saved: {golden['path']}", file=sys.stderr)


def _golden(args: argparse.Namespace, scenario: Scenario, result: ScenarioResult) -> None:
    if not args.golden:
        return
    path = golden_path(args.golden, scenario.name)
    data = result.to_json()
    info: dict[str, Any] = {"path": str(path), "differences": [], "saved": False}
    if path.exists() and not args.update_golden:
        baseline = load_baseline(path)
        diffs = compare(baseline, data, scenario.golden)
        info["differences"] = [d.to_json() for d in diffs]
        if any(d.failed for d in diffs):
            result.passed = False
    elif result.passed:
        save_baseline(path, data)
        info["saved"] = True
    result.golden = info


def _report_path(base: str, name: str, many: bool) -> Path:
    path = Path(base)
    if not many:
        return path
    if path.suffix.lower() == ".zip":
        return path.with_name(f"{path.stem}-{name}.zip")
    return path / name


async def run(args: argparse.Namespace) -> int:
    if args.update_golden and not args.golden:
        raise VoiceDeskError("--update-golden needs --golden DIR")
    # every file is read and checked before the first call
    scenarios: list[Scenario] = []
    for path in args.scenarios:
        scenarios.extend(load_scenarios(path))
    target = with_signaling_kind(args.target, None) if args.target else None
    for scenario in scenarios:
        if not (target or scenario.target):
            raise VoiceDeskError(f"{scenario.where}: no target: add 'target:' to the scenario or pass --target")
    ice = resolve_ice(args.ice) if args.ice else None
    from voicedesk.cli.call import parse_headers

    headers = parse_headers(args.header)

    results: list[dict[str, Any]] = []
    for scenario in scenarios:
        print(f"… {scenario.name} ({scenario.where})", file=sys.stderr, flush=True)
        result = await run_scenario(scenario, target, ice, headers or None)
        _golden(args, scenario, result)
        data = result.to_json()
        if args.report and result.record is None:
            print(f"  no report for {scenario.name}: no call was placed", file=sys.stderr)
        if args.report and result.record is not None:
            result.record.result = data
            where = write_bundle(result.record, _report_path(args.report, scenario.name, len(scenarios) > 1), args.mask)
            data["report"] = str(where)
        results.append(data)
        _print_result(data)
    if args.junit:
        write_junit(args.junit, results)
    passed = sum(1 for r in results if r["passed"])
    print(f"{passed} of {len(results)} scenario(s) passed", file=sys.stderr)
    if args.json:
        print(json.dumps({"passed": passed == len(results), "scenarios": results}, default=str))
    return 0 if passed == len(results) else 1
