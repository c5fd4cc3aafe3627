"""``voicedesk probe turn-taking TARGET``: how long a pause inside a sentence an agent sits out."""

from __future__ import annotations

import argparse
import json
import sys

import voicedesk.agent  # noqa: F401  (registers the embedded: dialects)
from voicedesk.config import resolve_ice
from voicedesk.limits import DAY_S, number, seconds
from voicedesk.rtc.signaling import selectable_kinds, targets_usage
from voicedesk.rtc.spec import CallSpec


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("probe", help="probe how an agent takes turns (the shortest pause it jumps in on)")
    probes = p.add_subparsers(dest="probe_command", metavar="PROBE", required=True)
    tt = probes.add_parser(
        "turn-taking",
        help="say one sentence in two halves with a longer pause each time, until the agent jumps in",
    )
    tt.add_argument("target", help=targets_usage())
    tt.add_argument("--signaling", choices=selectable_kinds(), help="how to reach an http(s) target")
    tt.add_argument("--ice", metavar="CONFIG.json|PRESET", help="RTCConfiguration JSON or a preset")
    tt.add_argument(
        "--start-ms", type=number(minimum=0, maximum=10_000), default=100.0, metavar="MS", help="first pause (100)"
    )
    tt.add_argument(
        "--step-ms", type=number(above=0, maximum=5_000), default=50.0, metavar="MS", help="added each time (50)"
    )
    tt.add_argument(
        "--max-ms", type=number(minimum=0, maximum=10_000), default=2000.0, metavar="MS", help="longest pause (2000)"
    )
    tt.add_argument("--sentence", default=None, help="what to say (two words or more; split in the middle)")
    tt.add_argument(
        "--agent-events",
        action="store_true",
        help="open the 'voicedesk' data channel for turn events (automatic for embedded: targets); without "
        "events, only a reply that begins in the pause counts",
    )
    tt.add_argument("--timeout", type=seconds(above=0, maximum=DAY_S), default=15.0, help="set-up timeout (15 s)")
    tt.add_argument("--json", action="store_true", help="print the result as one JSON object")
    tt.set_defaults(run=run_turn_taking)


async def run_turn_taking(args: argparse.Namespace) -> int:
    from voicedesk.qa.turn_taking import DEFAULT_SENTENCE, probe_turn_taking

    if args.max_ms < args.start_ms:
        print(
            f"voicedesk probe: --max-ms ({args.max_ms:g}) is shorter than --start-ms ({args.start_ms:g})",
            file=sys.stderr,
        )
        return 2
    spec = CallSpec(
        args.target,
        signaling=args.signaling,
        ice=resolve_ice(args.ice),
        timeout=args.timeout,
        agent_events=True if args.agent_events else None,
        source="silence",
    )
    result = await probe_turn_taking(
        spec,
        start_ms=args.start_ms,
        step_ms=args.step_ms,
        max_ms=args.max_ms,
        sentence=args.sentence or DEFAULT_SENTENCE,
    )
    if args.json:
        print(json.dumps(result.to_json()), flush=True)
    else:
        for step in result.steps:
            what = "the agent jumped in" if step.jumped_in else "the agent waited"
            when = (
                f" (turn ended {step.turn_ended_ms:.0f} ms into it)"
                if step.turn_ended_ms is not None
                else f" (reply {step.reply_onset_ms:.0f} ms into it)"
                if step.reply_onset_ms is not None
                else ""
            )
            print(f"pause {step.pause_ms:6.0f} ms: {what}{when}")
        threshold = result.threshold_ms
        if threshold is not None:
            print(
                f"turn-taking threshold {threshold:.0f} ms (the shortest pause it jumped in on, ±{result.step_ms:g} ms)"
            )
        elif result.error is None:
            print(f"turn-taking threshold: none up to {args.max_ms:g} ms")
    if result.error is not None:
        print(f"voicedesk: {result.error}", file=sys.stderr)
        return 1
    return 0
