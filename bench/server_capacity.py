"""Server capacity: concurrent echo calls one server process carries at the quality bar.

    .venv/bin/python bench/server_capacity.py [--hold 8] [--max-calls 160] [--voice]

Quality bar (issue 11): every call receives >= 48 frames a second, loss < 1 %,
jitter < 20 ms. Servers measured in the same run with the same load generator
(``voicedesk load``, one process):

(a) baseline: a plain aiortc echo server written here (aiortc's own server example:
    MediaRelay, decode + re-encode), stock aiortc (VOICEDESK_AIORTC_PATCHES=0);
(b) VoiceDesk: ``voicedesk serve --agent echo`` (forwards encoded packets);
(c) optionally (--voice) ``voicedesk serve --agent voice``.

Each server runs pinned to CPU 0 and the load generator to the other CPUs, so
"calls per core" is the server's own. For each server the number of calls is
doubled until the bar fails, then bisected once. Alongside, the server's CPU
time per call-second at a fixed 10 calls (from /proc) gives a second,
noise-robust ratio. If the load generator is the limit (its own calls miss the
bar against a server that is mostly idle), the figure is printed as a lower bound.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BASELINE_SERVER = r"""
import asyncio, os, sys
from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay

pcs = set()
relay = MediaRelay()
# aiortc's examples/server/server.py forgets a connection only when it "failed"; one the
# caller hung up on ends "closed" and stays in pcs for ever. BASELINE_CLOSE_ON=failed,closed fixes that.
CLOSE_ON = tuple(os.environ.get("BASELINE_CLOSE_ON", "failed").split(","))

async def offer(request):
    params = await request.json()
    pc = RTCPeerConnection()
    pcs.add(pc)

    @pc.on("track")
    def on_track(track):
        pc.addTrack(relay.subscribe(track))

    @pc.on("connectionstatechange")
    async def on_state():
        if pc.connectionState in CLOSE_ON:
            await pc.close()
            pcs.discard(pc)

    await pc.setRemoteDescription(RTCSessionDescription(sdp=params["sdp"], type=params["type"]))
    await pc.setLocalDescription(await pc.createAnswer())
    return web.json_response({"sdp": pc.localDescription.sdp, "type": "answer"})

app = web.Application()
app.router.add_post("/offer", offer)
port = int(sys.argv[1])
web.run_app(app, host="127.0.0.1", port=port, print=lambda *a: print(f"ready http://127.0.0.1:{port}", flush=True))
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def poll_lag(server: Server, lags: list[float], done: threading.Event) -> None:
    """The server's own loop-lag figure (GET /health; VoiceDesk servers only), once a second."""
    health = server.url.rsplit("/api/", 1)[0] + "/health"
    while not done.wait(1.0):
        if "/api/" not in server.url:
            return
        try:
            with urllib.request.urlopen(health, timeout=2) as response:
                lags.append(float(json.loads(response.read())["loop_lag_ms"]))
        except (OSError, ValueError, KeyError):
            pass


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class Server:
    def __init__(self, kind: str, cpu: int) -> None:
        self.kind = kind
        port = free_port()
        env = {**os.environ}
        if kind == "baseline":
            script = Path(tempfile.gettempdir()) / "voicedesk_bench_baseline_echo.py"
            script.write_text(BASELINE_SERVER)
            env["VOICEDESK_AIORTC_PATCHES"] = "0"
            args = [sys.executable, str(script), str(port)]
            self.url = f"http://127.0.0.1:{port}/offer"
        else:
            agent = "voice" if kind == "voice" else "echo"
            args = [
                sys.executable,
                "-m",
                "voicedesk",
                "serve",
                "--port",
                str(port),
                "--agent",
                agent,
                "--max-sessions",
                "10000",
                "--max-loop-lag-ms",
                "0",
            ]
            self.url = f"http://127.0.0.1:{port}/api/voice/offer"
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
        os.sched_setaffinity(self.proc.pid, {cpu})
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if "http://" not in line:
            raise SystemExit(f"{kind} server did not start: {line!r}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def load(url: str, calls: int, hold: float, cpus: set[int]) -> dict:
    ramp = max(10.0, calls / 3.0)  # every call up within ~3 s
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "voicedesk",
            "load",
            url,
            "--calls",
            str(calls),
            "--duration",
            str(hold),
            "--ramp",
            str(ramp),
            "--processes",
            "1",
            "--timeout",
            "20",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=lambda: os.sched_setaffinity(0, cpus),
    )
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    if not lines:
        raise SystemExit(f"load failed: {out.stderr[-500:]}")
    return json.loads(lines[-1])


def passes(report: dict) -> bool:
    return report["meeting_quality_bar"] == report["calls"]


def measure(kind: str, hold: float, max_calls: int, server_cpu: int, load_cpus: set[int]) -> dict:
    server = Server(kind, server_cpu)
    try:
        # CPU per call-second at a fixed 10 calls
        before = cpu_seconds(server.proc.pid)
        started = time.monotonic()
        report = load(server.url, 10, hold, load_cpus)
        cpu = cpu_seconds(server.proc.pid) - before
        wall = time.monotonic() - started
        cpu_per_call_s = cpu / (10 * hold)
        steps = []
        best, worst = 0, None
        calls = 10 if passes(report) else 5
        if passes(report):
            best = 10
            steps.append((10, report))
            calls = 20
        busy_at: dict[int, float] = {}

        lag_at: dict[int, float | None] = {}
        loadgen_busy_at: dict[int, float] = {}

        def step(n: int) -> dict:
            time.sleep(2.0)
            lags: list[float] = []
            done = threading.Event()
            poller = threading.Thread(target=poll_lag, args=(server, lags, done), daemon=True)
            poller.start()
            cpu0, t0, children0 = cpu_seconds(server.proc.pid), time.monotonic(), children_cpu()
            report = load(server.url, n, hold, load_cpus)
            wall = time.monotonic() - t0
            busy_at[n] = (cpu_seconds(server.proc.pid) - cpu0) / wall
            loadgen_busy_at[n] = (children_cpu() - children0) / wall
            done.set()
            poller.join()
            lag_at[n] = max(lags) if lags else None
            steps.append((n, report))
            print(
                f"  {kind:9s} {n:4d} calls: {report['meeting_quality_bar']:4d} at the bar, fps min "
                f"{(report['rx_fps'] or {}).get('min')}, jitter p99 {(report['jitter_ms'] or {}).get('p99')} ms, "
                f"failed {report['failed']}, server {busy_at[n]:.0%} of a core, load generator "
                f"{loadgen_busy_at[n]:.0%}, loop lag (median of 3 s, max) "
                f"{lag_at[n]} ms  (load {loadavg()})",
                flush=True,
            )
            return report

        while calls <= max_calls:
            if passes(step(calls)):
                best = calls
                calls *= 2
            else:
                worst = calls
                break
        if worst is not None and worst - best > 4:
            middle = (best + worst) // 2
            if passes(step(middle)):
                best = middle
            else:
                worst = middle
        # a failing step where the load generator used its whole core and the server did not
        # was lost by the load generator: the server's capacity is then a lower bound
        limited = worst is not None and loadgen_busy_at[worst] > 0.85 and busy_at[worst] < 0.8
        return {
            "kind": kind,
            "capacity": best,
            "first_failing": worst,
            "bounded_by_max_calls": worst is None,
            "cpu_per_call_second": round(cpu_per_call_s, 4),
            "cpu_wall_s": round(wall, 1),
            "limited_by_load_generator": limited,
            "steps": [(n, r["meeting_quality_bar"], (r["rx_fps"] or {}).get("min")) for n, r in steps],
            "loop_lag_ms": lag_at,
            "server_busy": {n: round(b, 2) for n, b in busy_at.items()},
            "load_generator_busy": {n: round(b, 2) for n, b in loadgen_busy_at.items()},
        }
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hold", type=float, default=8.0, help="seconds each call stays up (default 8)")
    parser.add_argument("--max-calls", type=int, default=160)
    parser.add_argument("--voice", action="store_true", help="also measure the voice agent")
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit("needs two CPUs: one for the server, the rest for the load generator")
    server_cpu, load_cpus = cpus[0], set(cpus[1:])
    print(f"server on CPU {server_cpu}, load generator on {sorted(load_cpus)}; load average {loadavg()}", flush=True)
    kinds = ["baseline", "voicedesk", *(["voice"] if args.voice else [])]
    results = {kind: measure(kind, args.hold, args.max_calls, server_cpu, load_cpus) for kind in kinds}
    for r in results.values():
        bound = "≥ " if r["bounded_by_max_calls"] or r["limited_by_load_generator"] else ""
        print(
            f"{r['kind']:10s} capacity {bound}{r['capacity']} calls/core (first failing: {r['first_failing']}); "
            f"server CPU {r['cpu_per_call_second'] * 1000:.1f} ms per call-second at 10 calls"
        )
    base, vd = results["baseline"], results["voicedesk"]
    cpu_ratio = base["cpu_per_call_second"] / vd["cpu_per_call_second"] if vd["cpu_per_call_second"] else float("inf")
    cap_ratio = vd["capacity"] / base["capacity"] if base["capacity"] else float("inf")
    print(json.dumps({"results": results, "load_average_end": loadavg()}))
    at_least = "≥ " if vd["bounded_by_max_calls"] or vd["limited_by_load_generator"] else ""
    print(
        f"server capacity: VoiceDesk echo {at_least}{vd['capacity']} vs plain "
        f"aiortc {base['capacity']} calls/core = {cap_ratio:.1f}x; CPU per call-second {cpu_ratio:.1f}x less "
        f"(load average {loadavg()})"
    )


if __name__ == "__main__":
    main()
