"""Event-to-screen latency of the Conversation tab: an agent's message received → shown.

A call from the app's MainWindow (stats graphs, the Conversation tab on screen, painting
gated between packets as shipped) to the chatty RTVI peer (tests/helpers/rtvi_peer.py, its
own process: it echoes the 440 Hz tone sent to it and sends an RTVI message every
``--interval`` s). For every conversation event the tab records the time from its arrival
(the bridge's signal, emitted in the data channel's message handler) to the end of the flush
that shows it, taken after Qt has processed the repaint the flush asked for
(``ConversationPanel.shown_delays_ms``). Modes, each in a fresh interpreter:

- ``window``        the waveforms drawing at 30 fps (the figure the issue asks for), the call
                    in the window's process (``VOICEDESK_ENGINE=inprocess``)
- ``window-still``  the waveforms stopped: the baseline, measured in the same run, so the
                    ratio says what drawing waveforms adds
- ``engine``, ``engine-still``  the same with the call in the engine process, as shipped: the
                    delay is measured from the event's arrival in the window, and the crossing
                    before it (engine sent → the window's loop handles it, one monotonic clock)
                    beside it; their sum bounds the engine-receipt → screen time

Usage::

    .venv/bin/python bench/conversation_latency.py --seconds 20 --interval 0.1 [--repeat 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gui_media_timing as timing  # the bench next to this one: its window and peer helpers

MODES = ("window-still", "window", "engine-still", "engine")
WARMUP_S = 1.5


def run_mode(mode: str, target: str, seconds: float) -> dict[str, Any]:
    app = timing._qt_app()

    async def main() -> dict[str, Any]:
        from voicedesk.gui.app import freeze_startup_objects
        from voicedesk.gui.widgets.dialer import DialRequest

        engine = mode.startswith("engine")
        window = timing._window(30, engine="process" if engine else "inprocess")
        panel = timing._show_conversation(window)
        freeze_startup_objects()
        if engine:
            window.prestart_engine()  # as the app does once its window is up
            await window.engine.ready()
        window.dial(DialRequest(target=target, source="tone:440"))
        while window.bridge is None or window.bridge.state.value != "connected":
            if window.bridge is not None and window.bridge.state.is_final:
                raise RuntimeError(f"call failed: {window.bridge.call.reason}")
            await asyncio.sleep(0.05)
        await asyncio.sleep(WARMUP_S)
        if mode.endswith("-still"):
            window.waveforms.stop()
        panel.shown_delays_ms.clear()
        flushes: list[float] = []
        flush = panel._flush_conversation

        def timed_flush() -> None:  # what one flush costs (the repaint it asks for comes after)
            started = time.perf_counter()
            flush()
            flushes.append((time.perf_counter() - started) * 1000.0)

        panel._flush_conversation = timed_flush
        frames0, seen0 = window.waveforms.frames_drawn, panel.messages_seen
        transit = getattr(window.bridge.call, "event_transit_ms", None)
        if transit is not None:
            transit.clear()
        await asyncio.sleep(seconds)
        delays = np.asarray(panel.shown_delays_ms)
        crossing = np.asarray(transit if transit is not None else [])
        result = {
            "events": int(delays.size),
            "messages": panel.messages_seen - seen0,
            "p50_ms": round(float(np.percentile(delays, 50)), 1) if delays.size else None,
            "p99_ms": round(float(np.percentile(delays, 99)), 1) if delays.size else None,
            "max_ms": round(float(delays.max()), 1) if delays.size else None,
            "fps_drawn": round((window.waveforms.frames_drawn - frames0) / seconds, 1),
            "turn_rows": panel.view.topLevelItemCount(),
            "flush_p50_ms": round(float(np.percentile(flushes, 50)), 2) if flushes else None,
            "flush_max_ms": round(float(max(flushes)), 2) if flushes else None,
            "crossing_p50_ms": round(float(np.percentile(crossing, 50)), 2) if crossing.size else None,
            "crossing_p99_ms": round(float(np.percentile(crossing, 99)), 2) if crossing.size else None,
        }
        await timing._close(window)
        return result

    return timing._run_on_qasync(app, main())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between the peer's RTVI messages")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--platform", default="offscreen", help="QT_QPA_PLATFORM for the window")
    parser.add_argument("--run-mode", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.run_mode:  # child: one mode, one JSON line
        print(json.dumps(run_mode(args.run_mode, args.target, args.seconds)), flush=True)
        return 0

    target, peer = timing.start_chatty_rtvi(args.interval)
    try:
        rows = timing.run_children(__file__, args.modes.split(","), args.repeat, target, args.seconds, args.platform)
    finally:
        timing.stop_server(peer)

    load = os.getloadavg()
    print(
        f"\n{platform.node()} · {os.cpu_count()} CPU · Python {platform.python_version()} · "
        f"platform {args.platform} · load {load[0]:.1f} · a message every {args.interval:g} s · "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n"
    )
    print(
        "| mode | run | messages | events shown | p50 (ms) | p99 (ms) | max (ms) | waveform fps "
        "| one flush p50 / max (ms) | engine → window crossing p50 / p99 (ms) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        crossing = f"{row['crossing_p50_ms']} / {row['crossing_p99_ms']}" if row.get("crossing_p99_ms") else "–"
        print(
            f"| {row['mode']} | {row['run']} | {row['messages']} | {row['events']} | {row['p50_ms']} | "
            f"{row['p99_ms']} | {row['max_ms']} | {row['fps_drawn']} | {row['flush_p50_ms']} / {row['flush_max_ms']} "
            f"| {crossing} |"
        )
    base = [r["p99_ms"] for r in rows if r["mode"] == "window-still" and r["p99_ms"] is not None]
    if base:
        print("\n| mode | runs | median p99 (ms) | × window-still | + median crossing p99 (ms) |")
        print("| --- | --- | --- | --- | --- |")
        for mode in MODES:
            mine = [r["p99_ms"] for r in rows if r["mode"] == mode and r["p99_ms"] is not None]
            crossings = [r["crossing_p99_ms"] for r in rows if r["mode"] == mode and r.get("crossing_p99_ms")]
            if mine:
                p99 = float(np.median(mine))
                crossed = f"{float(np.median(crossings)):.2f}" if crossings else "–"
                print(f"| {mode} | {len(mine)} | {p99:.1f} | {p99 / float(np.median(base)):.2f} | {crossed} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
