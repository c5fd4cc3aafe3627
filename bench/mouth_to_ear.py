"""Mouth-to-ear latency of the whole audio loop, by a click's time of flight.

    virtual mic -> capture -> 20 ms frames -> Opus -> UDP -> embedded echo -> UDP
    -> decode -> playout buffer -> speaker -> null sink -> monitor

A private PulseAudio (tests/helpers/pulse.py) provides the virtual microphone and
the null-sink speaker. A separate "rig" process opens one duplex PortAudio stream
whose output plays clicks into the virtual microphone and whose input records
the speaker's null-sink monitor; both directions of one stream share one sample
clock, so (heard - played) in samples is the loop's latency plus the rig's own
path through PulseAudio. The rig's own path is measured first (the click goes
straight to the virtual mic's monitor, no VoiceDesk) and subtracted.

VoiceDesk's stages are timed on CLOCK_MONOTONIC as the click passes them
(PortAudio's DAC/ADC times are converted to it):

  capture   rig DAC time of the click -> the microphone block holding it reaches the loop
  framing   -> the 20 ms frame holding it is handed to the encoder
  network   -> the decoded echo arrives (Opus x2, UDP x2, the echo agent)
  playout   -> the speaker callback hands it to the device (playout buffer)
  output    -> the rig's ADC time at the monitor (device buffer + PulseAudio)

Run:  .venv/bin/python bench/mouth_to_ear.py [--clicks 10] [--playout-ms 60]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RATE = 48_000
CLICK_MS = 10
THRESHOLD = 0.2
HOLDOFF_S = 0.4


def click() -> np.ndarray:
    t = np.arange(int(RATE * CLICK_MS / 1000)) / RATE
    return (0.7 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)


def onsets(samples: np.ndarray, holdoff: int = int(RATE * HOLDOFF_S)) -> list[int]:
    found, last = [], -holdoff
    for i in np.flatnonzero(np.abs(samples) > THRESHOLD):
        if i - last >= holdoff:
            found.append(int(i))
        last = i if i - last >= holdoff else last
    return found


# --- the rig (its own process: its PULSE_SINK / PULSE_SOURCE differ from VoiceDesk's) -------------
def rig(clicks: int, period_s: float, lead_s: float) -> dict[str, Any]:
    import sounddevice as sd

    period = int(RATE * period_s)
    total = int(RATE * (lead_s + clicks * period_s + 1.0))
    recorded = np.zeros(total, dtype=np.float32)
    burst = click()
    out_at = [int(RATE * lead_s) + k * period for k in range(clicks)]
    state = {"pos": 0}
    timing: list[tuple[int, float, float]] = []  # block start, DAC and ADC time on CLOCK_MONOTONIC

    def callback(indata: np.ndarray, outdata: np.ndarray, frames: int, ti: Any, status: Any) -> None:
        pos = state["pos"]
        now = time.monotonic()
        timing.append(
            (pos, now + ti.outputBufferDacTime - ti.currentTime, now + ti.inputBufferAdcTime - ti.currentTime)
        )
        outdata.fill(0)
        for start in out_at:
            lo, hi = max(start, pos), min(start + burst.size, pos + frames)
            if lo < hi:
                outdata[lo - pos : hi - pos, 0] = burst[lo - start : hi - start]
        end = min(pos + frames, total)
        if end > pos:
            recorded[pos:end] = indata[: end - pos, 0]
        state["pos"] = pos + frames

    with sd.Stream(samplerate=RATE, channels=1, dtype="float32", blocksize=480, latency="high", callback=callback):
        time.sleep(total / RATE)
    heard = onsets(recorded)
    blocks = np.array([t[0] for t in timing])

    def clock(index: int, which: int) -> float:
        k = int(np.searchsorted(blocks, index, side="right")) - 1
        return timing[k][which] + (index - timing[k][0]) / RATE

    pairs = []
    for h in heard:
        before = [o for o in out_at if o <= h]
        if before and h - before[-1] < period:
            o = before[-1]
            pairs.append({"samples": h - o, "dac": clock(o, 1), "adc": clock(h, 2)})
    return {"pairs": pairs, "clicks": clicks}


def run_rig(env: dict[str, str], clicks: int, period_s: float, lead_s: float) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--rig", json.dumps([clicks, period_s, lead_s])],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60 + clicks * period_s,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"rig failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- VoiceDesk, instrumented ------------------------------------------------------------------
async def measure(
    server: Any, clicks: int, period_s: float, playout_ms: float, prefetch: int | None = None
) -> dict[str, Any]:
    from voicedesk.media.microphone import MicrophoneTrack
    from voicedesk.media.sinks import AudioSink
    from voicedesk.media.speaker import SpeakerSink
    from voicedesk.rtc.call import Call

    stamps: dict[str, list[float]] = {"capture": [], "sent": [], "received": [], "played": []}
    last: dict[str, float] = {}

    def stamp(stage: str, block: np.ndarray, at: float, rate: int | None = None) -> None:
        """When the block holding the click's onset reached this stage. Only the speaker (``rate``
        given) places the onset inside its block: there ``at`` is the DAC time of the block's end.
        Stages telescope, so their sum is the rig's DAC-to-ADC time whatever each stamp means."""
        hits = np.flatnonzero(np.abs(block) > THRESHOLD)
        if hits.size and at - last.get(stage, -1e9) > HOLDOFF_S:
            last[stage] = at
            stamps[stage].append(at - (block.size - int(hits[0])) / rate if rate else at)

    class TimedMic(MicrophoneTrack):
        def _on_block(self, block: np.ndarray, had_status: bool) -> None:
            stamp("capture", block, time.monotonic())  # when it reaches the loop
            super()._on_block(block, had_status)

    class TimedSpeaker(SpeakerSink):
        def _callback(self, outdata: np.ndarray, frames: int, ti: Any, status: Any) -> None:
            super()._callback(outdata, frames, ti, status)
            # the moment the device plays the block's first sample, on CLOCK_MONOTONIC
            dac = time.monotonic() + ti.outputBufferDacTime - ti.currentTime
            stamp("played", outdata[:, 0], dac + frames / (self.samplerate or RATE), self.samplerate or RATE)

    class Received(AudioSink):
        def write(self, samples: np.ndarray) -> None:
            stamp("received", samples, time.monotonic())

    if prefetch is not None:
        # what-if: audio receivers that hold `prefetch` packets before decoding (aiortc: 4)
        import aiortc.rtcrtpreceiver as receiver_module

        from voicedesk.rtc import aiortc_patches

        aiortc_patches.apply()
        make = receiver_module.JitterBuffer

        def fewer(capacity: int, is_video: bool = False, **kwargs: Any) -> Any:
            return make(
                capacity=capacity, prefetch=kwargs.get("prefetch", 0) if is_video else prefetch, is_video=is_video
            )

        receiver_module.JitterBuffer = fewer  # type: ignore[assignment,misc]
    mic = TimedMic()
    speaker = TimedSpeaker(target_ms=playout_ms)
    call = Call("embedded:echo", source=mic, sinks=[Received(), speaker], timeout=30)
    call.outbound.add_observer(lambda s: stamp("sent", s, time.monotonic()))
    await call.start()
    try:
        env = {**server.env, "PULSE_SINK": "vd_mic", "PULSE_SOURCE": "vd_sink.monitor"}
        result = await asyncio.to_thread(run_rig, env, clicks, period_s, 1.0)
    finally:
        await call.hangup()
    return {
        "rig": result,
        "stamps": stamps,
        "mic_rate": mic.samplerate,
        "mic_block_ms": mic.blocksize_ms,
        "speaker_rate": speaker.samplerate,
        "speaker_block_ms": speaker.blocksize_ms,
        "speaker_latency_ms": (speaker.output_latency_s or 0) * 1000,
        "playout": speaker.stats(),
    }


def nearest_after(times: list[float], t: float, within: float = 1.0) -> float | None:
    later = [x for x in times if t - 0.005 <= x <= t + within]
    return later[0] if later else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clicks", type=int, default=10)
    parser.add_argument("--period", type=float, default=1.0, help="seconds between clicks")
    parser.add_argument("--playout-ms", type=float, default=60.0)
    parser.add_argument("--verbose", action="store_true", help="print every click's figures")
    parser.add_argument(
        "--receiver-prefetch",
        type=int,
        help="what-if: audio receivers (ours and the echo's) decode after this many packets (aiortc: 4)",
    )
    parser.add_argument("--rig", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rig:
        print(json.dumps(rig(*json.loads(args.rig))))
        return 0

    from tests.helpers.pulse import running_pulse

    with running_pulse() as server:
        rig_env = {**server.env, "PULSE_SINK": "vd_mic", "PULSE_SOURCE": "vd_mic.monitor"}
        before = run_rig(rig_env, args.clicks, args.period, 1.0)
        loop = asyncio.run(measure(server, args.clicks, args.period, args.playout_ms, args.receiver_prefetch))
        after = run_rig(rig_env, args.clicks, args.period, 1.0)

    own = [p["samples"] * 1000 / RATE for p in before["pairs"] + after["pairs"]]
    rig_ms = statistics.median(own)
    if args.verbose:
        print("rig's own path per click (ms):", [round(x, 1) for x in own])
    rows = []
    for pair in loop["rig"]["pairs"]:
        s = loop["stamps"]
        t_cap = nearest_after(s["capture"], pair["dac"])
        t_sent = nearest_after(s["sent"], t_cap) if t_cap else None
        t_rx = nearest_after(s["received"], t_sent) if t_sent else None
        t_play = nearest_after(s["played"], t_rx) if t_rx else None
        total = pair["samples"] * 1000 / RATE - rig_ms
        row = {"total": total, "clock_total": (pair["adc"] - pair["dac"]) * 1000}
        if None not in (t_cap, t_sent, t_rx, t_play):
            row.update(
                capture=(t_cap - pair["dac"]) * 1000,
                framing=(t_sent - t_cap) * 1000,
                network=(t_rx - t_sent) * 1000,
                playout=(t_play - t_rx) * 1000,
                output=(pair["adc"] - t_play) * 1000,
            )
        rows.append(row)
    if args.verbose:
        for row in rows:
            print({k: round(v, 1) for k, v in row.items()})
    if not rows:
        print("no click made it round the loop", file=sys.stderr)
        return 1

    def med(key: str) -> str:
        values = [r[key] for r in rows if key in r]
        return f"{statistics.median(values):6.1f}" if values else "   n/a"

    unavoidable = 20 + loop["mic_block_ms"] + loop["speaker_block_ms"] + args.playout_ms
    total = statistics.median(r["total"] for r in rows)
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    print(f"date:    {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"command: {' '.join(sys.argv)}")
    print(f"clicks heard {len(rows)}/{args.clicks}; mic {loop['mic_rate']} Hz, speaker {loop['speaker_rate']} Hz")
    print(f"rig's own path (baseline, subtracted)  {rig_ms:6.1f} ms")
    print(f"mouth-to-ear, median                   {total:6.1f} ms (min {min(r['total'] for r in rows):.1f}, "
          f"max {max(r['total'] for r in rows):.1f})")  # fmt: skip
    print(f"  same, from PortAudio's DAC/ADC times  {med('clock_total')} ms (no baseline needed; the sum of:)")
    for key, what in (
        ("capture", "capture (virtual mic -> loop)"),
        ("framing", "framing (-> 20 ms frame to encoder)"),
        ("network", "network (Opus, UDP, echo, back)"),
        ("playout", "playout buffer"),
        ("output", "output (device buffer -> monitor)"),
    ):
        print(f"  {what:37s}{med(key)} ms")
    print(
        f"unavoidable parts: 20 ms frame + {loop['mic_block_ms']:g} ms mic block + {loop['speaker_block_ms']:g} ms "
        f"speaker block + {args.playout_ms:g} ms playout target = {unavoidable:g} ms; "
        f"excess {total - unavoidable:+.1f} ms (aim: within 30)"
    )
    print(
        f"speaker device latency reported by PortAudio: {loop['speaker_latency_ms']:.1f} ms; playout {loop['playout']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
