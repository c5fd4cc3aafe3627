"""Caller conditions: are inserts placed where asked, and does mixing disturb packet timing?

Calls an echo agent in its own ``voicedesk serve`` process (it sends the caller's speech
back, so the echo path has audio to feed back and backchannels have agent speech to land
in), alternating calls without conditions and with all of them at once (babble at 25 dB,
an echo path at 200 ms / 12 dB through the laptop-speaker filter, two backchannels per agent
stretch of speech, a quieter caller), in one run:

- outgoing packet timing: deviation of the intervals between outgoing RTP packets from 20 ms
  (at the DTLS transport, as bench/gui_media_timing.py takes it), p50/p99 per mode;
- placement: where each insert is in the sent audio (cross-correlation of its clip around the
  asked sample) minus where it was asked, ms;
- the mixing itself: time per 20 ms frame spent in ``ConditionedTrack.recv`` after the source.

Usage::

    .venv/bin/python bench/conditions_timing.py [--seconds 12] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time
from typing import Any

import numpy as np
from gui_media_timing import WARMUP_S, LoopLag, PacketClock, start_server, summarize

import voicedesk.speech  # noqa: F401  (the say: source)
from voicedesk.media.conditions import CallerVoice, Conditions, EchoSpec, InsertSpec, NoiseSpec
from voicedesk.media.pcm import SAMPLE_RATE
from voicedesk.rtc.call import Call
from voicedesk.rtc.conditions import insert_clips
from voicedesk.rtc.spec import CallSpec

SOURCE = "say:" + "|".join(["please book a table for two people tonight", "what time does the kitchen close"] * 4)
CONDITIONS = Conditions(
    noise=NoiseSpec("babble", 25.0),
    echo=EchoSpec(200.0, 12.0, speaker=True),
    inserts=tuple(
        insert
        for turn in range(1, 9)
        for insert in (InsertSpec("mm-hmm", 300.0, turn), InsertSpec("cough", 1100.0, turn, gain_db=-6))
    ),
    voice=CallerVoice(volume_db=-6.0),
    seed=1,
)


def placement_errors(sent: np.ndarray, report: dict[str, Any], clips: dict[str, np.ndarray]) -> list[float]:
    errors = []
    for placed in report.get("backchannels", []):
        clip = clips[placed["what"]] * np.float32(10 ** (0 if placed["what"] == "mm-hmm" else -6 / 20))
        asked = round(placed["asked_ms"] / 1000 * SAMPLE_RATE)
        lo = max(0, asked - 4800)
        window = sent[lo : asked + 4800 + clip.size]
        if window.size < clip.size:
            continue  # the call ended before it was all sent
        found = lo + int(np.argmax(np.correlate(window, clip, mode="valid")))
        errors.append((found - asked) * 1000 / SAMPLE_RATE)
    return errors


async def one_call(target: str, seconds: float, conditions: Conditions | None) -> dict[str, Any]:
    call = Call.from_spec(CallSpec(target, source=SOURCE, conditions=conditions))
    sent: list[np.ndarray] = []
    call.add_sent_observer(lambda samples: sent.append(samples.copy()))
    clock, lag = PacketClock(), LoopLag()
    try:
        await call.start()
        clock.attach(call.pc)
        await asyncio.sleep(WARMUP_S)
        clock.recording = True
        lag.start()
        await asyncio.sleep(seconds)
        clock.recording = False
        await lag.stop()
    finally:
        await call.hangup()
    row: dict[str, Any] = {"mode": "conditions" if conditions else "plain", **summarize(clock.times, lag.lags)}
    track = call.source
    mix = getattr(track, "mix_s", None)
    if conditions is not None and mix:
        report = call.summary()["conditions"]
        errors = placement_errors(np.concatenate(sent), report, insert_clips(conditions))
        row["mix_p50_us"] = round(float(np.percentile(mix, 50)) * 1e6, 1)
        row["mix_p99_us"] = round(float(np.percentile(mix, 99)) * 1e6, 1)
        row["inserts"] = len(errors)
        row["placement_max_abs_ms"] = round(max((abs(e) for e in errors), default=float("nan")), 2)
        row["snr_db_sent"] = report.get("noise", {}).get("snr_db_sent")
        row["echo_first_fed_back_ms"] = report.get("echo", {}).get("first_fed_back_ms")
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    target, server = start_server()
    rows = []
    try:
        for _ in range(args.repeat):
            for conditions in (None, CONDITIONS):  # alternated: the machine's load drifts
                row = asyncio.run(one_call(target, args.seconds, conditions))
                rows.append(row)
                print(json.dumps(row), flush=True)
    finally:
        server.terminate()
        server.wait(10)
    by_mode = {m: [r for r in rows if r["mode"] == m] for m in ("plain", "conditions")}
    p99 = {m: float(np.median([r["dev_p99_ms"] for r in rs])) for m, rs in by_mode.items()}
    placements = [r["placement_max_abs_ms"] for r in by_mode["conditions"]]
    print(
        json.dumps(
            {
                "machine": f"{platform.node()} {platform.machine()} python {sys.version.split()[0]}",
                "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                "seconds": args.seconds,
                "repeat": args.repeat,
                "dev_p99_ms_median": p99,
                "p99_added_ms": round(p99["conditions"] - p99["plain"], 2),
                "placement_max_abs_ms": max(placements),
                "inserts": sum(r["inserts"] for r in by_mode["conditions"]),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
