"""``voicedesk load TARGET --calls N``: many concurrent calls, percentiles at the end."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import voicedesk.agent
import voicedesk.speech  # noqa: F401  (registers the say: source)
from voicedesk.limits import DAY_S, count, number, seconds
from voicedesk.rtc.liveness import MEDIA_TIMEOUT
from voicedesk.rtc.signaling import selectable_kinds, with_signaling_kind


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "load",
        help="place many concurrent calls and report set-up, audio and network percentiles",
        description="Place N calls against TARGET, started --ramp per second and spread over one process per "
        "core; print progress on stderr and percentiles at the end. Exit status 1 when any call failed. "
        "embedded:AGENT starts one agent server in this process for all the calls.",
    )
    p.add_argument("target", help="the same targets as 'voicedesk call' (http(s)://…, whip+…, ws://…, embedded:echo)")
    p.add_argument("--calls", type=count(minimum=1), help="number of calls to place (required without --locust)")
    p.add_argument("--ramp", type=number(above=0), default=10.0, help="calls started per second (default 10)")
    p.add_argument("--duration", type=seconds(), default=10.0, help="seconds each call stays up (default 10)")
    p.add_argument(
        "--source", default="tone:440", help="tone:FREQ, wav:PATH, wav+loop:PATH or silence (default tone:440)"
    )
    p.add_argument(
        "--timeout",
        type=seconds(above=0, maximum=DAY_S),
        default=15.0,
        help="seconds allowed for each call's set-up (default 15)",
    )
    p.add_argument(
        "--media-timeout",
        type=seconds(maximum=DAY_S),
        default=MEDIA_TIMEOUT,
        metavar="SECONDS",
        help=f"a call that gets no audio packets from the target this long fails, with that reason (default "
        f"{MEDIA_TIMEOUT:g}; 0 = off)",
    )
    p.add_argument("--processes", type=count(), default=0, help="worker processes (default: one per core)")
    p.add_argument("--signaling", choices=selectable_kinds(), help="as for 'voicedesk call'")
    p.add_argument("--ice", metavar="CONFIG.json|PRESET", help="RTCConfiguration JSON or a preset")
    p.add_argument("--relay-only", action="store_true", help='force iceTransportPolicy "relay" (TURN only)')
    p.add_argument(
        "-H", "--header", action="append", default=[], metavar="'NAME: VALUE'", help="extra signaling HTTP header"
    )
    p.add_argument(
        "--impair", metavar="SPEC", help="every call through the impairment relay, e.g. 'loss=2%%,delay=40ms'"
    )
    p.add_argument(
        "--say",
        action="append",
        default=[],
        metavar="UTTERANCE",
        help="converse instead of streaming --source: say this (text, tone:HZ[/S] or wav:PATH), wait for the "
        "reply, next one; repeat the option for several (voice-to-voice every turn)",
    )
    p.add_argument("--pause", type=seconds(maximum=DAY_S), default=0.5, help="seconds after a reply (default 0.5)")
    p.add_argument(
        "--reply-timeout",
        type=seconds(above=0, maximum=DAY_S),
        default=10.0,
        help="seconds for a reply to begin before the call fails (default 10)",
    )
    p.add_argument(
        "--onset",
        choices=("auto", "audio-level", "opus-size", "decoded"),
        default="auto",
        help="how reply onsets are found (default auto: RFC 6464 levels, else Opus sizes, else decoding)",
    )
    p.add_argument(
        "--barge-in-ms",
        type=number(minimum=0, maximum=60_000),
        metavar="MS",
        help="with --say: talk over each reply MS after it began and measure how long the agent kept talking",
    )
    p.add_argument("--scenario", metavar="FILE.yaml", help="each call runs this scenario (decoded; costly)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object (the last line of stdout)")
    p.add_argument(
        "--shape",
        metavar="KIND:K=V,…",
        help="with --locust: a load shape, e.g. step:users=5,every=30,max=50 (ramp, step, spike, soak)",
    )
    p.add_argument(
        "--slo",
        action="append",
        default=[],
        metavar="METRIC_pNN_ms=LIMIT",
        help="with --locust: report at how many concurrent callers this broke, e.g. voice_to_voice_p90_ms=1500",
    )
    p.add_argument(
        "--locust",
        nargs=argparse.REMAINDER,
        metavar="LOCUST OPTIONS",
        help="run the calls as Locust users instead (the options above still say what each call does): "
        "everything after --locust goes to Locust (-u, -r, -t, --headless, --csv, --processes, --master, "
        "--worker …)",
    )
    p.set_defaults(run=run)


def _fmt(stats: dict[str, float] | None, unit: str) -> str:
    if not stats:
        return "n/a"
    return f"p50 {stats['p50']} · p90 {stats['p90']} · p99 {stats['p99']} · max {stats['max']} {unit}"


def print_report(report: dict[str, Any]) -> None:
    lines = [
        f"calls          {report['calls']}: {report['succeeded']} succeeded, {report['failed']} failed"
        + (f", {report['not_placed']} not placed" if report["not_placed"] else ""),
        f"processes      {report['processes']} (ramp {report['ramp_per_s']:g}/s, {report['duration_s']:g} s each, "
        f"{report['wall_s']} s in all)",
        f"set-up         {_fmt(report['setup_ms'], 'ms')}",
        f"first audio    {_fmt(report['first_audio_ms'], 'ms')}",
        f"jitter         {_fmt(report['jitter_ms'], 'ms')}",
        f"loss           {_fmt(report['loss_pct'], '%')}",
        f"rtt            {_fmt(report['rtt_ms'], 'ms')}",
        f"frames/s rx    {_fmt(report['rx_fps'], '')}  (min {report['rx_fps']['min'] if report['rx_fps'] else 'n/a'})",
        f"quality bar    {report['meeting_quality_bar']} of {report['calls']} calls got ≥ 48 frames/s, "
        "loss < 1 %, jitter < 20 ms",
    ]
    if report["turns"]:
        methods = ", ".join(f"{n} by {m}" for m, n in report["onset_methods"].items())
        lines.append(f"voice-to-voice {_fmt(report['voice_to_voice_ms'], 'ms')}  ({report['turns']} turns; {methods})")
    if report.get("barge_in_stop_ms"):
        lines.append(f"barge-in stop  {_fmt(report['barge_in_stop_ms'], 'ms')}")
    for reason, times in report["failures"].items():
        lines.append(f"failed ×{times:<4} {reason}")
    print("\n".join(lines), flush=True)


async def run(args: argparse.Namespace) -> int:
    from voicedesk.qa.load import LoadPlan, LoadProgress, run_load
    from voicedesk.rtc.signaling import parse_headers

    if args.locust is not None:
        from voicedesk.load.command import run_locust

        return run_locust(args)
    if args.calls is None:  # argparse's words and exit status for a missing option
        print("voicedesk load: --calls is required (or run the calls as Locust users: --locust …)", file=sys.stderr)
        return 2

    plan = LoadPlan(
        target=with_signaling_kind(args.target, args.signaling),
        calls=args.calls,
        ramp=args.ramp,
        duration=args.duration,
        source=args.source,
        timeout=args.timeout,
        media_timeout=args.media_timeout,
        processes=args.processes,
        headers=parse_headers(args.header),
        ice=args.ice,
        relay_only=args.relay_only,
        impair=args.impair,
        say=tuple(args.say),
        pause=args.pause,
        reply_timeout=args.reply_timeout,
        onset=args.onset,
        barge_in_ms=args.barge_in_ms,
        scenario=args.scenario,
    )
    plan.prepare()  # a bad source, utterance or scenario fails here, not N times in the workers

    def progress(p: LoadProgress) -> None:
        print(
            f"[{p.elapsed_s:6.1f} s] started {p.started}/{p.calls}, connected {p.connected}, active {p.active}, "
            f"succeeded {p.succeeded}, failed {p.failed}",
            file=sys.stderr,
            flush=True,
        )

    report = await run_load(plan, progress)
    summary = report.to_json()
    if report.stopped_early:
        print(f"voicedesk: load run stopped early: {report.stopped_early}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary), flush=True)
    else:
        print_report(summary)
    return 0 if report.ok else 1
