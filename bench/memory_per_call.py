"""Memory left behind by finished calls: server RSS after 200 sequential calls minus after 10.

    .venv/bin/python bench/memory_per_call.py [--calls 200] [--hold 0.6]

Two servers measured side by side in the same run, each driven by its own
sequence of calls (one call at a time, each held --hold seconds with a tone
going both ways, then hung up): (a) the plain aiortc echo server of
bench/server_capacity.py (stock aiortc), (b) ``voicedesk serve --agent echo``.
RSS is read from /proc after each server has had 2 s to close the last session.
Target (issue 11): < 5 MB growth between call 10 and call 200.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_capacity import Server, loadavg


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


async def drive(server: Server, calls: int, hold: float) -> dict:
    from voicedesk.qa.load import LoadPlan, place_call

    plan = LoadPlan(server.url, calls=1, duration=hold, timeout=20)
    marks: dict[int, float] = {}
    failed = 0
    for i in range(calls):
        result = await place_call(plan, i)
        failed += not result.ok
        if i + 1 in (10, 50, 100, calls):
            await asyncio.sleep(2.0)
            marks[i + 1] = round(rss_mb(server.proc.pid), 1)
            print(
                f"  {server.kind:9s} after {i + 1:3d} calls: RSS {marks[i + 1]} MB, "
                f"{threads(server.proc.pid)} threads (load {loadavg()})",
                flush=True,
            )
    growth = marks[calls] - marks[10]
    return {
        "rss_mb": marks,
        "growth_mb": round(growth, 1),
        "per_call_kb": round(growth * 1024 / (calls - 10), 1),
        "failed_calls": failed,
        "threads_end": threads(server.proc.pid),
    }


async def main_async(calls: int, hold: float) -> dict:
    cpus = sorted(os.sched_getaffinity(0))
    servers = [Server("baseline", cpus[0]), Server("voicedesk", cpus[-1])]
    try:
        results = await asyncio.gather(*(drive(s, calls, hold) for s in servers))
    finally:
        for server in servers:
            server.stop()
    return dict(zip(("baseline", "voicedesk"), results, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--hold", type=float, default=0.6)
    args = parser.parse_args()
    print(f"load average {loadavg()}", flush=True)
    results = asyncio.run(main_async(args.calls, args.hold))
    print(json.dumps(results))
    base, vd = results["baseline"], results["voicedesk"]
    print(
        f"RSS growth from call 10 to call {args.calls}: VoiceDesk {vd['growth_mb']} MB ({vd['per_call_kb']} KB/call) "
        f"vs plain aiortc {base['growth_mb']} MB ({base['per_call_kb']} KB/call) (load average {loadavg()})"
    )


if __name__ == "__main__":
    main()
