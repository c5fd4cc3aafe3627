"""``voicedesk test SCENARIO.yaml…``: scripted test calls with pass/fail (docs/scenarios.md)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from voicedesk.cli._conditions import robustness_lines
from voicedesk.config import resolve_ice
from voicedesk.errors import VoiceDeskError
from voicedesk.limits import count, number
from voicedesk.qa.evals import check_where
from voicedesk.qa.golden import compare, golden_path, load_baseline, save_baseline
from voicedesk.qa.junit import write_junit
from voicedesk.qa.latency import voice_to_voice_text
from voicedesk.qa.report import add_report_arguments, write_bundle
from voicedesk.qa.runner import ScenarioResult, run_scenario
from voicedesk.qa.scenario import Scenario, load_scenarios
from voicedesk.rtc.signaling import with_signaling_kind
from voicedesk.speech.recognizers import SttChoice, add_stt_arguments


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "test",
        help="run scenario files (say, wait for the reply, expect transcripts, latencies, network figures)",
        description="Run scripted test calls. Every file is checked before any call; exit status 0 only when "
        "every scenario passes. The format: docs/scenarios.md.",
    )
    p.add_argument("scenarios", nargs="+", metavar="SCENARIO.yaml", help="scenario files (each may hold several)")
    p.add_argument("--target", help="call this target instead of the scenarios' own 'target:'")
    add_stt_arguments(p, default=None)
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
    repeat = p.add_argument_group(
        "repeated runs", "an agent is not deterministic: run each scenario N times and judge it by its pass rate"
    )
    repeat.add_argument("--repeat", type=count(minimum=1, maximum=10_000), default=1, metavar="N", help="runs each")
    repeat.add_argument(
        "--parallel", type=count(minimum=1, maximum=64), default=1, metavar="K", help="calls at once (default 1)"
    )
    repeat.add_argument("--results", metavar="DIR", help="keep one JSON line per run (DIR/runs.jsonl) and a summary")
    repeat.add_argument(
        "--min-pass-rate",
        type=number(minimum=0, maximum=1),
        metavar="R",
        help="exit 0 when every scenario passes at least this share of its runs (default: all of them)",
    )
    repeat.add_argument(
        "--seed", type=count(minimum=0), metavar="S", help="run i's seed is S+i (default: the caller's seed:, else 0)"
    )
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
            f"  {mark} {check_where(check)} (line {check['line']}): expected {check['expected']}; "
            f"measured {check['measured']}{note}",
            file=sys.stderr,
        )
    for turn in result["turns"]:
        agent = (turn.get("agent") or {}).get("latency_ms") or {}
        own = f", agent's own {agent['voice_to_voice']:.0f} ms" if agent.get("voice_to_voice") is not None else ""
        v2v = turn.get("voice_to_voice_ms")
        heard = f"heard {turn.get('transcript')!r}"
        if turn.get("transcript_unavailable"):
            heard = f"transcript unavailable: {turn['transcript_unavailable']}"
        extra = ""
        if turn.get("voice_to_voice_first_word_ms") is not None:
            extra += f"; to the first word {turn['voice_to_voice_first_word_ms']:.0f} ms"
        if turn.get("agent_text_wer") is not None:
            extra += f"; word error rate {turn['agent_text_wer']:.2f} against the agent's text"
        print(
            f"  turn {turn['index']}: said {turn['said']}; voice-to-voice "
            f"{voice_to_voice_text(v2v)}{own}; {heard}{extra}",
            file=sys.stderr,
        )
    conversation = result.get("conversation")
    if conversation:
        from voicedesk.qa.html import caller_conversation_rows

        for at, who, words, source, latency in caller_conversation_rows(conversation, result["turns"]):
            when = f"{at / 1000:6.2f} s" if at is not None else "      "
            print(f"  {when} {who:6} {words!r} ({source}){'; ' + latency if latency else ''}", file=sys.stderr)
        print(f"  conversation ended: {conversation['ended']}", file=sys.stderr)
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
    if args.stt or args.stt_model:  # the recognizer of every scenario, instead of its own stt:
        stt = args.stt or "whisper"
        SttChoice(stt, args.stt_model).check()
        scenarios = [dataclasses.replace(s, stt_mode=stt, stt_model=args.stt_model) for s in scenarios]
    for scenario in scenarios:
        if not (target or scenario.target):
            raise VoiceDeskError(f"{scenario.where}: no target: add 'target:' to the scenario or pass --target")
    ice = resolve_ice(args.ice) if args.ice else None
    from voicedesk.rtc.signaling import parse_headers

    headers = parse_headers(args.header)
    if args.repeat > 1 or args.parallel > 1 or args.results or args.min_pass_rate is not None:
        return await _run_repeated(args, scenarios, target, ice, headers or None)

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


async def _run_repeated(
    args: argparse.Namespace, scenarios: list[Scenario], target: str | None, ice: Any, headers: dict[str, str] | None
) -> int:
    """``--repeat N [--parallel K]``: every scenario N times, summed up by pass rate (qa/evals.py)."""
    from voicedesk.qa.evals import RUNS_FILE, passes, summarize, summary_lines, write_run, write_summary
    from voicedesk.qa.hearing import HearingPool
    from voicedesk.qa.junit import write_repeat_junit
    from voicedesk.qa.repeat import run_repeated

    if args.golden:
        raise VoiceDeskError("--golden compares one run with its golden call; it does not go with --repeat")
    if args.results and (Path(args.results) / RUNS_FILE).exists():
        raise VoiceDeskError(f"{args.results} already holds results ({RUNS_FILE}); give a new directory")
    runs: list[dict[str, Any]] = []
    pool = HearingPool()  # one recognizer worker for every run
    try:
        for scenario in scenarios:
            print(
                f"… {scenario.name} ({scenario.where}) × {args.repeat}, {args.parallel} at a time",
                file=sys.stderr,
                flush=True,
            )

            def on_result(result: ScenarioResult) -> None:
                data = result.to_json()
                if args.report and result.record is not None:
                    result.record.result = data
                    name = f"{result.name}-run{result.run}"
                    data["report"] = str(write_bundle(result.record, _report_path(args.report, name, True), args.mask))
                runs.append(data)
                if args.results:
                    write_run(args.results, data)
                _print_run(data, args.repeat)

            await run_repeated(
                scenario,
                args.repeat,
                args.parallel,
                target,
                ice,
                headers,
                seed=args.seed,
                on_result=on_result,
                pool=pool,
            )
    finally:
        await pool.close()
    summaries = summarize(runs)
    for summary in summaries:
        for line in summary_lines(summary, args.min_pass_rate):
            print(line, file=sys.stderr)
    if args.results:
        write_summary(args.results, summaries)
    if args.junit:
        write_repeat_junit(args.junit, summaries, args.min_pass_rate)
    ok = all(passes(s, args.min_pass_rate) for s in summaries)
    if args.json:
        print(json.dumps({"passed": ok, "summaries": summaries, "runs": runs}, default=str))
    return 0 if ok else 1


def _print_run(run: dict[str, Any], of: int) -> None:
    from voicedesk.qa.evals import run_failure_kinds

    verdict = "PASS" if run["passed"] else "FAIL"
    why = "" if run["passed"] else " — " + ", ".join(run_failure_kinds(run))
    impaired = f" [impaired: {run['impaired']}]" if run.get("impaired") else ""
    print(
        f"  run {run.get('run')}/{of} {verdict} {run['name']} ({run['duration_s']:.1f} s, seed {run.get('seed')})"
        f"{impaired}{why}",
        file=sys.stderr,
        flush=True,
    )
    if run.get("error"):
        print(f"    error: {run['error']}", file=sys.stderr)
