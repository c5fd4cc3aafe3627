"""Audio delivered under packet loss: stock aiortc vs VoiceDesk's jitter-buffer patch.

Same seeded loss (the impairment relay, down direction) for both runs; each run
is a separate process so the patch is either fully in or fully out.
Figure: missing audio (ms) per lost packet (ms) — 1.0 is ideal.

    .venv/bin/python bench/jitter_buffer_loss.py [--loss 5] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys


def run(loss: float, seconds: float, patched: bool) -> dict:
    env = {**os.environ, "VOICEDESK_AIORTC_PATCHES": "1" if patched else "0"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "voicedesk",
            "call",
            "embedded:tone",
            "--source",
            "tone:1000",
            "--duration",
            str(seconds),
            "--impair",
            f"down.loss={loss}%",
            "--impair-seed",
            "42",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    summary = json.loads(out.stdout)
    down = summary["impairment"]["counters"]["down"]
    lost_ms = down["rtp_dropped"] * 20.0
    return {
        "packets_received": summary["packets_received"],
        "frames_decoded": summary["rx_frames"],
        "lost_ms": lost_ms,
        "missing_ms": summary["rx_gap_ms"],
        "ratio": summary["rx_gap_ms"] / lost_ms if lost_ms else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loss", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    stock = run(args.loss, args.seconds, patched=False)
    patched = run(args.loss, args.seconds, patched=True)
    print(f"stock aiortc : {stock}")
    print(f"patched      : {patched}")
    print(
        f"missing audio per lost packet: stock {stock['ratio']:.2f}x, patched {patched['ratio']:.2f}x "
        f"({args.loss:g}% loss, {args.seconds:g} s)"
    )


if __name__ == "__main__":
    main()
