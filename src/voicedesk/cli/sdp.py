"""``voicedesk sdp lint|summary|diff|rules``: read SDP people paste when a call fails.

Each FILE may be ``-`` (standard input), raw SDP, or the JSON a signaling exchange
carries (``{"type", "sdp"}``, Janus ``{"jsep": {…}}``): the SDP inside is used and line
numbers count inside it.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicedesk.errors import SdpError, VoiceDeskError
from voicedesk.rtc.sdp.diff import diff, format_diff
from voicedesk.rtc.sdp.edit import drop_candidates, keep_codecs
from voicedesk.rtc.sdp.lint import (
    RULES,
    Finding,
    Severity,
    has_errors,
    lint,
    lint_pair,
    lint_text,
    sort_findings,
)
from voicedesk.rtc.sdp.model import SessionDescription, parse
from voicedesk.rtc.sdp.summary import format_summary, summarize


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sdp", help="lint, summarize and diff session descriptions (SDP)")
    p.set_defaults(run=lambda args: p.print_help() or 0)
    cmds = p.add_subparsers(dest="sdp_command", metavar="SDP_COMMAND")

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--json", action="store_true", help="print one JSON object on stdout")

    q = cmds.add_parser(
        "lint", help="check an SDP (or an offer/answer pair) against named rules; exit 1 on an error-level finding"
    )
    q.add_argument("file", metavar="FILE", help="SDP file, or - for standard input")
    q.add_argument("answer", metavar="ANSWER", nargs="?", help="the answer to FILE: also check the pair")
    q.add_argument(
        "--type",
        choices=("offer", "answer"),
        help="what FILE is (default: from JSON 'type', else guessed from a=setup)",
    )
    common(q)
    q.set_defaults(run=run_lint)

    q = cmds.add_parser("summary", help="what an offer/answer pair negotiated: codec, ptime, DTLS/ICE roles, …")
    q.add_argument("offer", metavar="OFFER")
    q.add_argument("answer", metavar="ANSWER")
    common(q)
    q.set_defaults(run=run_summary)

    q = cmds.add_parser("diff", help="differences between two SDPs by section and attribute")
    q.add_argument("a", metavar="A")
    q.add_argument("b", metavar="B")
    q.add_argument(
        "--ignore-volatile",
        action="store_true",
        help="leave out what changes on every call (o= ids, ICE credentials, fingerprints, candidates, ports, SSRCs)",
    )
    common(q)
    q.set_defaults(run=run_diff)

    q = cmds.add_parser(
        "edit",
        help="rewrite an SDP (for call --edit-offer/--edit-answer): keep codecs, drop candidates; "
        "everything else stays byte for byte",
    )
    q.add_argument("file", metavar="FILE", help="SDP file, or - for standard input")
    q.add_argument(
        "--keep-codec",
        action="append",
        default=[],
        metavar="NAME",
        help="keep only these codecs (repeatable), e.g. --keep-codec PCMU --keep-codec telephone-event",
    )
    q.add_argument("--kind", default="audio", help="which sections --keep-codec edits (default audio)")
    q.add_argument(
        "--drop-candidates",
        action="append",
        default=[],
        metavar="TYPE",
        help="remove candidates of this type (host, srflx, prflx, relay) or transport (udp, tcp)",
    )
    q.set_defaults(run=run_edit)

    q = cmds.add_parser("rules", help="list the lint rules and their severities")
    common(q)
    q.set_defaults(run=run_rules)


@dataclass
class SdpInput:
    name: str
    text: str
    type: str | None  # from a JSON wrapper, when there was one


def read_inputs(*paths: str | None) -> list[SdpInput]:
    if sum(1 for p in paths if p == "-") > 1:
        raise VoiceDeskError("only one of the files can be - (standard input)")
    return [read_input(p) for p in paths if p is not None]


def read_input(path: str) -> SdpInput:
    """Read FILE (or stdin for ``-``), unwrapping a JSON offer/answer object."""
    if path == "-":
        data = sys.stdin.buffer.read()
        name = "<stdin>"
    else:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise VoiceDeskError(f"cannot read {path}: {exc.strerror or exc}") from None
        name = path
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SdpError(f"{name}: line {line}: not SDP: the text is not UTF-8 (byte {exc.start})") from None
    kind = None
    if text.lstrip().startswith("{"):
        text, kind = _unwrap_json(name, text)
    return SdpInput(name, text, kind)


def _unwrap_json(name: str, text: str) -> tuple[str, str | None]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SdpError(f"{name}: looks like JSON but is not ({exc})") from None
    for holder in (data, data.get("jsep") if isinstance(data, dict) else None):
        if isinstance(holder, dict) and isinstance(holder.get("sdp"), str):
            kind = holder.get("type")
            return holder["sdp"], kind if kind in ("offer", "answer") else None
    raise SdpError(f'{name}: JSON without an \'sdp\' string (expected {{"type": …, "sdp": …}})')


def parse_input(source: SdpInput) -> SessionDescription:
    try:
        return parse(source.text)
    except SdpError as exc:
        raise SdpError(f"{source.name}: {exc}") from None


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def _counts(findings: list[Finding]) -> dict[str, int]:
    return {s.value: sum(1 for f in findings if f.severity == s) for s in Severity}


def run_lint(args: argparse.Namespace) -> int:
    first, *rest = read_inputs(args.file, args.answer)
    second = rest[0] if rest else None
    names = {"offer": first.name, "answer": second.name if second else "", "": first.name}
    if second is None:
        role = args.type or first.type
        try:
            findings = lint(parse_input(first), role)
        except SdpError:
            if not args.json:
                raise
            findings = lint_text(first.text, role)
    else:
        findings = lint_pair(parse_input(first), parse_input(second))
    findings = sort_findings(findings)
    counts = _counts(findings)
    if args.json:
        _print_json(
            {
                "findings": [{**f.to_json(), "file": names.get(f.sdp, first.name)} for f in findings],
                "counts": counts,
            }
        )
    else:
        for finding in findings:
            print(finding.format(names.get(finding.sdp, first.name)))
        print(f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} notes")
    return 1 if has_errors(findings) else 0


def run_summary(args: argparse.Namespace) -> int:
    offer_in, answer_in = read_inputs(args.offer, args.answer)
    offer, answer = parse_input(offer_in), parse_input(answer_in)
    summary = summarize(offer, answer)
    problems = [f for f in lint_pair(offer, answer) if f.severity == Severity.ERROR]
    names = {"offer": offer_in.name, "answer": answer_in.name}
    if args.json:
        _print_json({**summary.to_json(), "errors": [{**f.to_json(), "file": names[f.sdp]} for f in problems]})
    else:
        print(format_summary(summary))
        if problems:
            print("\nproblems")
            for f in problems:
                print(f"  {f.format(names[f.sdp])}")
    return 0


def run_diff(args: argparse.Namespace) -> int:
    a_in, b_in = read_inputs(args.a, args.b)
    changes = diff(parse_input(a_in), parse_input(b_in), volatile=not args.ignore_volatile)
    if args.json:
        _print_json({"a": a_in.name, "b": b_in.name, "changes": [c.to_json() for c in changes]})
    else:
        print(format_diff(changes, a_in.name, b_in.name))
    return 0


def run_edit(args: argparse.Namespace) -> int:
    source = read_input(args.file)
    text = source.text
    parse_input(source)
    if args.keep_codec:
        text = keep_codecs(text, args.keep_codec, args.kind)
    types = [t for t in args.drop_candidates if t.lower() in ("host", "srflx", "prflx", "relay")]
    transports = [t for t in args.drop_candidates if t.lower() in ("udp", "tcp")]
    unknown = set(args.drop_candidates) - set(types) - set(transports)
    if unknown:
        raise VoiceDeskError(f"--drop-candidates takes host, srflx, prflx, relay, udp or tcp, not {sorted(unknown)[0]}")
    if types or transports:
        text = drop_candidates(text, types, transports)
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.flush()
    return 0


def run_rules(args: argparse.Namespace) -> int:
    if args.json:
        _print_json([{"rule": r.name, "severity": r.severity.value, "summary": r.summary} for r in RULES.values()])
    else:
        width = max(len(name) for name in RULES)
        for rule in RULES.values():
            print(f"{rule.name:<{width}}  {rule.severity.value:<7}  {rule.summary}")
    return 0
