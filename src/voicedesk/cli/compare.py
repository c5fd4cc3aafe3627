"""``voicedesk compare DIR_A DIR_B``: two ``test --results`` directories, change and significance."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from voicedesk.errors import ConfigError
from voicedesk.limits import number


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="compare two sets of repeated runs (voicedesk test --results): pass rates, latencies, p-values",
        description="Per scenario and metric: A's and B's pass rates (Fisher's exact test) and latency "
        "distributions (Mann-Whitney U). Exit 1 when B regressed past a threshold with p < --alpha.",
    )
    p.add_argument("a", metavar="DIR_A", help="the baseline's --results directory")
    p.add_argument("b", metavar="DIR_B", help="the candidate's --results directory")
    p.add_argument("--alpha", type=number(above=0, maximum=1), default=0.05, help="significance level (0.05)")
    p.add_argument(
        "--max-drop",
        type=number(minimum=0, maximum=1),
        default=0.1,
        metavar="SHARE",
        help="a pass rate lower by more than this (absolute, default 0.1) is a regression",
    )
    p.add_argument(
        "--max-slower",
        type=number(minimum=0),
        default=0.2,
        metavar="SHARE",
        help="a median latency higher by more than this share (default 0.2 = 20 %%) is a regression",
    )
    p.add_argument("--html", metavar="OUT.html", help="write the table as an HTML page")
    p.add_argument("--json", action="store_true", help="print the rows as one JSON object on stdout")
    p.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    from voicedesk.qa.compare import Thresholds, compare_runs, only_in, render_html, table_lines
    from voicedesk.qa.evals import read_runs

    runs_a, runs_b = read_runs(args.a), read_runs(args.b)
    thresholds = Thresholds(alpha=args.alpha, max_drop=args.max_drop, max_slower=args.max_slower)
    rows = compare_runs(runs_a, runs_b, thresholds)
    missing_b, missing_a = only_in(runs_a, runs_b)
    if not rows:
        raise ConfigError(f"{args.a} and {args.b} have no scenario in common (matched by name)")
    for line in table_lines(rows):
        print(line, file=sys.stderr)
    for name in missing_b:
        print(f"only in A: {name}", file=sys.stderr)
    for name in missing_a:
        print(f"only in B: {name}", file=sys.stderr)
    regressions = [r for r in rows if r.regression]
    print(f"{len(regressions)} regression(s) in {len(rows)} comparison(s)", file=sys.stderr)
    if args.html:
        _write(args.html, render_html(rows, args.a, args.b, thresholds))
    if args.json:
        print(json.dumps({"regressions": len(regressions), "rows": [r.to_json() for r in rows]}))
    return 1 if regressions else 0


def _write(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None
