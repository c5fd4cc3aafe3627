"""Does the audio jitter buffer keep the delay of late packets? Echo delay under jitter,
with and without catching up (rtc/aiortc_patches.py, patch 1).

A call to ``embedded:echo`` (the echo forwards packets: no jitter buffer on its side)
through the impairment relay with Gaussian jitter on the way back (packets reorder).
The source is a 100 ms tone burst every 500 ms; the delay of each burst is the time
from handing its first frame to the encoder to its echo coming out of our decoder
(both taken on the loop, as qa/latency.py does). Same seed, same machine, one run
each way, interleaved over --repeat rounds; the only difference is whether our
audio jitter buffer releases every complete frame beyond its prefetch at once
(catch-up, as shipped) or one frame per arriving packet (aiortc's way).

    .venv/bin/python bench/jitter_buffer_catch_up.py [--jitter 20] [--seconds 20] [--repeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

from voicedesk.media.pcm import SAMPLE_RATE
from voicedesk.media.sources import parse_source
from voicedesk.qa.latency import TimedRecorder, speech_runs
from voicedesk.rtc import aiortc_patches
from voicedesk.rtc.call import Call
from voicedesk.rtc.impair import ImpairmentSpec

PERIOD_S = 0.5
BURST_S = 0.1
WARMUP_S = 2.0


def burst_wav(path: Path) -> None:
    t = np.arange(int(PERIOD_S * SAMPLE_RATE)) / SAMPLE_RATE
    audio = np.where(t < BURST_S, 0.5 * np.sin(2 * np.pi * 1000 * t), 0.0)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes((audio * 32767).astype("<i2").tobytes())


async def one_call(wav: Path, jitter_ms: float, seconds: float, catch_up: bool, seed: int) -> dict[str, float]:
    from aiortc import rtcrtpreceiver

    aiortc_patches.apply()
    # the factory's switch: catch up only where patch 5 decodes frame.following (bench only)
    rtcrtpreceiver.RTCRtpReceiver._voicedesk_inline = catch_up
    sent, received = TimedRecorder(), TimedRecorder()
    call = Call(
        "embedded:echo",
        source=parse_source(f"wav+loop:{wav}"),
        sinks=[received],
        impairment=ImpairmentSpec.parse(f"down.jitter={jitter_ms:g}ms"),
        impair_seed=seed,
    )
    call.outbound.add_observer(sent.write)
    try:
        await call.run(seconds)
    finally:
        rtcrtpreceiver.RTCRtpReceiver._voicedesk_inline = True
    start = sent.start_time
    assert start is not None, "nothing was sent"
    out = speech_runs(sent, start + WARMUP_S, min_speech_ms=50, hang_ms=200, threshold_dbfs=-30)
    back = [r.start for r in speech_runs(received, start + WARMUP_S, min_speech_ms=50, hang_ms=200, threshold_dbfs=-30)]
    delays = []
    for run in out:
        later = [t for t in back if t >= run.start]
        if later and later[0] - run.start < PERIOD_S:
            delays.append((later[0] - run.start) * 1000.0)
    summary = call.summary()
    return {
        "bursts": len(delays),
        "median_ms": statistics.median(delays),
        "p90_ms": float(np.percentile(delays, 90)),
        "jitter_ms": summary["jitter_ms"] or 0.0,
        "gap_ms": summary["rx_gap_ms"] or 0.0,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jitter", type=float, default=20.0, help="Gaussian jitter on the way back, ms (σ)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"{platform.node()} {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, {when}")
    wav = Path(tempfile.mkdtemp(prefix="voicedesk-bench-")) / "bursts.wav"
    burst_wav(wav)
    rows: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    for r in range(args.repeat):
        for catch_up in (False, True):
            row = await one_call(wav, args.jitter, args.seconds, catch_up, seed=100 + r)
            rows[catch_up].append(row)
            name = "catch-up " if catch_up else "one/packet"
            print(
                f"  round {r + 1} {name}: {row['bursts']} bursts, echo delay median {row['median_ms']:.0f} ms, "
                f"p90 {row['p90_ms']:.0f} ms; jitter shown {row['jitter_ms']:.1f} ms; "
                f"missing audio {row['gap_ms']:.0f} ms",
                flush=True,
            )
    stock = statistics.median(r["median_ms"] for r in rows[False])
    ours = statistics.median(r["median_ms"] for r in rows[True])
    print(
        f"echo delay under {args.jitter:g} ms jitter (median of medians): one frame per packet {stock:.0f} ms, "
        f"catching up {ours:.0f} ms ({stock - ours:+.0f} ms saved)"
    )


if __name__ == "__main__":
    asyncio.run(main())
