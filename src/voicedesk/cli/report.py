"""``voicedesk report DUMP``: read a chrome://webrtc-internals dump (a customer's browser call).

Lists its peer connections, picks one (``--connection``, else the one with the most
samples) and prints RTT, jitter, loss and bitrate over the call; ``--csv`` and ``--html``
write the same series as VoiceDesk's own call reports do.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from voicedesk.errors import ConfigError
from voicedesk.qa.html import render_report
from voicedesk.qa.report import stats_csv
from voicedesk.qa.webrtc_dump import DumpConnection, read_dump


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="read a chrome://webrtc-internals dump: RTT, jitter, loss, bitrate over time (CSV, HTML)",
        description='Read the JSON that chrome://webrtc-internals "Create dump" writes (plain or gzip).',
    )
    p.add_argument("dump", help="the webrtc-internals dump file")
    p.add_argument("--connection", metavar="KEY|INDEX", help="which peer connection (default: the longest)")
    p.add_argument("--csv", metavar="OUT.csv", help="write the connection's series as CSV")
    p.add_argument("--html", metavar="OUT.html", help="write a self-contained HTML report with the graphs")
    p.add_argument("--json", action="store_true", help="print one JSON object (connections and series) on stdout")
    p.set_defaults(run=run)


def _stat(values: list[float | None]) -> dict[str, float | None]:
    present = [v for v in values if v is not None]
    if not present:
        return {"median": None, "max": None}
    return {"median": round(statistics.median(present), 2), "max": round(max(present), 2)}


def describe(conn: DumpConnection) -> dict[str, Any]:
    s = conn.samples
    return {
        "connection": conn.key,
        "url": conn.url,
        "samples": len(s),
        "duration_s": round(s[-1].t_ms / 1000.0, 1) if s else 0.0,
        "rtt_ms": _stat([x.rtt_ms for x in s]),
        "jitter_ms": _stat([x.jitter_ms for x in s]),
        "loss_pct": _stat([x.loss_pct for x in s]),
        "bitrate_in_kbps": _stat([x.bitrate_in_kbps for x in s]),
        "bitrate_out_kbps": _stat([x.bitrate_out_kbps for x in s]),
        "packets_received": s[-1].packets_received if s else None,
        "packets_lost": s[-1].packets_lost if s else None,
    }


def _write(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    dump = read_dump(args.dump)
    conn = dump.connection(args.connection)
    info = describe(conn)
    if args.csv:
        _write(args.csv, stats_csv(list(conn.samples)))
    if args.html:
        summary = {k: v for k, v in info.items() if not isinstance(v, dict)}
        summary.update({f"{k} median": v["median"] for k, v in info.items() if isinstance(v, dict)})
        _write(
            args.html,
            render_report(
                title=f"webrtc-internals dump — {Path(args.dump).name} — {conn.key}",
                summary=summary,
                samples=conn.samples,
                note=f"From {dump.user_agent or 'a browser'}; connection {conn.label}.",
            ),
        )
    if args.json:
        series = [s.to_json() for s in conn.samples]
        others = [{"connection": c.key, "url": c.url, "samples": len(c.samples)} for c in dump.connections]
        print(json.dumps({**info, "connections": others, "series": series}))
        return 0
    print(f"{args.dump}: {len(dump.connections)} peer connection(s)", file=sys.stderr)
    for c in dump.connections:
        mark = "*" if c is conn else " "
        print(f" {mark} {c.key}  {len(c.samples)} samples  {c.url}", file=sys.stderr)

    def fmt(stat: dict[str, float | None], unit: str) -> str:
        if stat["median"] is None:
            return "n/a"
        return f"median {stat['median']} {unit}, max {stat['max']} {unit}"

    print(f"connection     {conn.key} ({info['samples']} samples over {info['duration_s']} s)")
    print(f"rtt            {fmt(info['rtt_ms'], 'ms')}")
    print(f"jitter         {fmt(info['jitter_ms'], 'ms')}")
    print(f"loss           {fmt(info['loss_pct'], '%')}")
    print(f"bitrate in     {fmt(info['bitrate_in_kbps'], 'kbit/s')}")
    print(f"bitrate out    {fmt(info['bitrate_out_kbps'], 'kbit/s')}")
    return 0
