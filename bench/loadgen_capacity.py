"""Load-generator capacity: calls one load process drives at the quality bar.

    .venv/bin/python bench/loadgen_capacity.py [--hold 8] [--max-calls 320]

Same quality bar as bench/server_capacity.py (>= 48 frames a second received,
loss < 1 %, jitter < 20 ms, every call). The server is VoiceDesk's echo
(forwarding: the cheapest server there is) pinned to CPU 0; the load generator
runs pinned to CPU 1, so calls per core are the generator's own:

(a) baseline: a plain aiortc client written here, the way aiortc's examples do
    it: per call an RTCPeerConnection, a tone track that makes a frame per 20 ms
    (aiortc encodes it), received audio decoded and counted; one process.
(b) ``voicedesk load --processes 1`` (sends Opus packets encoded once per process,
    counts received packets without decoding them).

Calls are doubled until the bar fails, then bisected once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server_capacity import Server, load, loadavg, passes


async def baseline_client(url: str, calls: int, hold: float, ramp: float) -> dict:
    """Plain aiortc: N peer connections sending a tone, decoding what comes back."""
    import fractions

    import aiohttp
    import numpy as np
    from aiortc import AudioStreamTrack, RTCPeerConnection, RTCSessionDescription
    from av import AudioFrame

    class Tone(AudioStreamTrack):
        def __init__(self) -> None:
            super().__init__()
            self.n = 0

        async def recv(self) -> AudioFrame:
            frame = await super().recv()  # aiortc's paced silence: pts and timing
            t = (np.arange(960) + self.n * 960) / 48000
            self.n += 1
            pcm = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16).reshape(1, -1)
            out = AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
            out.sample_rate, out.pts, out.time_base = 48000, frame.pts, fractions.Fraction(1, 48000)
            return out

    async def one(index: int, http: aiohttp.ClientSession) -> dict:
        await asyncio.sleep(index / ramp)
        pc = RTCPeerConnection()
        pc.addTrack(Tone())
        times: list[float] = []
        readers = []

        @pc.on("track")
        def on_track(track):
            async def read():
                while True:
                    try:
                        await track.recv()
                    except Exception:
                        return
                    times.append(time.monotonic())

            readers.append(asyncio.ensure_future(read()))

        try:
            await pc.setLocalDescription(await pc.createOffer())
            async with http.post(url, json={"sdp": pc.localDescription.sdp, "type": "offer"}) as r:
                answer = await r.json()
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
            await asyncio.sleep(hold)
            held = time.monotonic()
            stats = await pc.getStats()
        except Exception as exc:
            return {"ok": False, "reason": str(exc)}
        finally:
            await pc.close()
            for reader in readers:
                reader.cancel()
        inbound = [s for s in stats.values() if s.type == "inbound-rtp"]
        jitter = inbound[0].jitter / 48.0 if inbound else None
        lost = inbound[0].packetsLost if inbound else 0
        received = inbound[0].packetsReceived if inbound else 0
        fps = None
        if times and held - times[0] > 1.5:
            fps = sum(1 for t in times if times[0] + 1.0 <= t <= held) / (held - times[0] - 1.0)
        loss = 100.0 * lost / (lost + received) if lost + received else 0.0
        ok = fps is not None and fps >= 48 and loss < 1 and (jitter or 0) < 20
        return {"ok": ok, "fps": fps}

    async with aiohttp.ClientSession() as http:
        results = await asyncio.gather(*(one(i, http) for i in range(calls)))
    fps = [r["fps"] for r in results if r.get("fps") is not None]
    return {
        "calls": calls,
        "meeting_quality_bar": sum(r["ok"] for r in results),
        "rx_fps": {"min": round(min(fps), 2)} if fps else None,
        "jitter_ms": None,
        "failed": sum("reason" in r for r in results),
        "failures": sorted({r["reason"] for r in results if "reason" in r})[:3],
    }


def run_baseline(url: str, calls: int, hold: float, cpus: set[int]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--baseline-client", url, str(calls), str(hold)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "VOICEDESK_AIORTC_PATCHES": "0"},
        preexec_fn=lambda: os.sched_setaffinity(0, cpus),
    )
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    if not lines:
        raise SystemExit(f"baseline client failed: {out.stderr[-800:]}")
    return json.loads(lines[-1])


def ladder(name: str, run, max_calls: int) -> dict:
    best, worst, calls, steps = 0, None, 10, []
    while calls <= max_calls:
        report = run(calls)
        steps.append((calls, report["meeting_quality_bar"], (report.get("rx_fps") or {}).get("min")))
        print(
            f"  {name:10s} {calls:4d} calls: {report['meeting_quality_bar']:4d} at the bar, fps min "
            f"{(report.get('rx_fps') or {}).get('min')}  (load {loadavg()})",
            flush=True,
        )
        if passes(report):
            best, calls = calls, calls * 2
        else:
            worst = calls
            break
        time.sleep(2.0)
    if worst is not None and worst - best > 4:
        middle = (best + worst) // 2
        report = run(middle)
        steps.append((middle, report["meeting_quality_bar"], (report.get("rx_fps") or {}).get("min")))
        print(f"  {name:10s} {middle:4d} calls: {report['meeting_quality_bar']:4d} at the bar", flush=True)
        best, worst = (middle, worst) if passes(report) else (best, middle)
    return {"capacity": best, "first_failing": worst, "bounded_by_max_calls": worst is None, "steps": steps}


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--baseline-client":
        url, calls, hold = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
        print(json.dumps(asyncio.run(baseline_client(url, calls, hold, max(10.0, calls / 3.0)))))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--hold", type=float, default=8.0)
    parser.add_argument("--max-calls", type=int, default=320)
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit("needs two CPUs: one for the server, one for the load generator")
    load_cpus = {cpus[1]}
    print(f"echo server on CPU {cpus[0]}, load generator on CPU {cpus[1]}; load average {loadavg()}", flush=True)
    server = Server("voicedesk", cpus[0])
    try:
        base = ladder("baseline", lambda n: run_baseline(server.url, n, args.hold, load_cpus), args.max_calls)
        vd = ladder("voicedesk", lambda n: load(server.url, n, args.hold, load_cpus), args.max_calls)
    finally:
        server.stop()
    print(json.dumps({"baseline": base, "voicedesk": vd, "load_average_end": loadavg()}))
    ratio = vd["capacity"] / base["capacity"] if base["capacity"] else float("inf")
    bound = "≥ " if vd["bounded_by_max_calls"] else ""
    print(
        f"load generator capacity (one process, one core): voicedesk load {bound}{vd['capacity']} vs plain aiortc "
        f"{base['capacity']} calls = {ratio:.1f}x (load average {loadavg()})"
    )


if __name__ == "__main__":
    main()
