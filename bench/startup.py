"""Start-up: launch -> window shown, and launch -> a connected call on embedded:echo,
against the bare import of PySide6 + aiortc + pyqtgraph (the floor), and against
the same imports given the app's fix to PySide6's import hook (gui/pyside_patches.py).

    .venv/bin/python bench/startup.py [--runs 5]

Each figure is the wall time from spawning a fresh interpreter to the moment it says
so on stdout. The app is the real one, ``python -m voicedesk gui embedded:echo --call``
with ``VOICEDESK_STARTUP_PROBE=1`` (it prints "shown" after the window's first paint
and "connected" when the call connects); offscreen Qt, settings in a scratch
directory. Also measured: a call placed 1 s after the window appeared (as a person
clicks), from the click to connected, which the app's warm-up of the call path
shortens. Best of --runs and the median; floor and app runs are interleaved so both
see the same machine. Target (issue 11): within 1.5x the floor.

Bytecode: the floor's packages were byte-compiled by pip; ``scripts/setup.sh`` compiles
``src/`` too. Run ``.venv/bin/python -m compileall -q src/voicedesk`` first when the
tree was changed with PYTHONDONTWRITEBYTECODE set, or the app pays for compiling itself.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR = "import PySide6.QtWidgets, aiortc, pyqtgraph; print('imported', flush=True)"
# the same imports with the app's fix to PySide6's import hook (gui/pyside_patches.py), so
# that the app's figures can be read both against the bare floor (the target) and
# against a floor that gets the same fix
FLOOR_FIXED = (
    "import PySide6; from voicedesk.gui import pyside_patches; assert pyside_patches.apply(); "
    "import PySide6.QtWidgets, aiortc, pyqtgraph; print('imported', flush=True)"
)
APP = [sys.executable, "-m", "voicedesk", "gui", "embedded:echo", "--call"]

# the app as a person uses it: the window comes up, they click Call a second later
CLICK_LATER = r"""
import asyncio, os, sys, time
os.environ["VOICEDESK_STARTUP_PROBE"] = ""
from voicedesk.gui import app as gui_app

real_main = gui_app._main

async def main(window, options):
    async def click():
        await asyncio.sleep(0.1)  # the window is up
        print("shown", flush=True)
        await asyncio.sleep(1.0)
        started = time.monotonic()
        window.dialer.request_dial()
        while window.bridge is None or window.bridge.state.value != "connected":
            if window.bridge is not None and window.bridge.state.is_final:
                print("failed", window.bridge.call.reason, flush=True)
                return
            await asyncio.sleep(0.002)
        print("clicked", f"{(time.monotonic() - started) * 1000:.0f}", flush=True)
    asyncio.get_running_loop().create_task(click())
    return await real_main(window, options)

gui_app._main = main
sys.exit(gui_app.run(gui_app.GuiOptions(target="embedded:echo")))
"""


def timed(command: list[str], marks: tuple[str, ...]) -> dict[str, float]:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": tempfile.mkdtemp(prefix="voicedesk-bench-"),
        "VOICEDESK_STARTUP_PROBE": "1",
    }
    started = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    seen: dict[str, float] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        words = line.split()
        if not words:
            continue
        if words[0] == "failed":
            raise SystemExit(f"the call failed: {line.strip()}")
        if words[0] in marks:
            # "clicked <ms>" reports its own interval; the others are read off the clock here
            seen[words[0]] = float(words[1]) / 1000.0 if words[0] == "clicked" else time.monotonic() - started
        if len(seen) == len(marks):
            break
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    missing = [m for m in marks if m not in seen]
    if missing:
        raise SystemExit(f"{' '.join(command[:4])}…: never printed {missing} (exit status {proc.returncode})")
    return seen


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def summary(values: list[float]) -> str:
    return f"{min(values):.3f} s (median {statistics.median(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"{platform.node()} {os.cpu_count()} CPUs, Python {platform.python_version()}, load {loadavg()}", flush=True)
    timed([sys.executable, "-c", FLOOR], ("imported",))  # warm the file cache once
    timed(APP, ("shown", "connected"))
    floors: list[float] = []
    fixed_floors: list[float] = []
    shown: list[float] = []
    connected: list[float] = []
    clicked: list[float] = []
    for run in range(args.runs):
        floors.append(timed([sys.executable, "-c", FLOOR], ("imported",))["imported"])
        fixed_floors.append(timed([sys.executable, "-c", FLOOR_FIXED], ("imported",))["imported"])
        app = timed(APP, ("shown", "connected"))
        shown.append(app["shown"])
        connected.append(app["connected"])
        clicked.append(timed([sys.executable, "-c", CLICK_LATER], ("shown", "clicked"))["clicked"])
        print(
            f"  run {run + 1}: floor {floors[-1]:.3f} s (with the hook fix {fixed_floors[-1]:.3f} s), "
            f"window {shown[-1]:.3f} s, connected {connected[-1]:.3f} s; "
            f"click 1 s after start-up -> connected {clicked[-1] * 1000:.0f} ms",
            flush=True,
        )
    floor = min(floors)
    fixed = min(fixed_floors)
    print(
        f"against the floor with the same PySide6 import-hook fix, {summary(fixed_floors)}: "
        f"window {min(shown) / fixed:.2f}x, connected {min(connected) / fixed:.2f}x"
    )
    print(
        f"start-up, best of {args.runs} (load {loadavg()}): bare imports {summary(floors)}; "
        f"window shown {summary(shown)} = {min(shown) / floor:.2f}x the floor "
        f"(median {statistics.median(shown) / statistics.median(floors):.2f}x); "
        f"connected call on embedded:echo {summary(connected)} = {min(connected) / floor:.2f}x "
        f"(median {statistics.median(connected) / statistics.median(floors):.2f}x); "
        f"a click 1 s after start-up connects in {min(clicked) * 1000:.0f} ms "
        f"(median {statistics.median(clicked) * 1000:.0f})"
    )


if __name__ == "__main__":
    main()
