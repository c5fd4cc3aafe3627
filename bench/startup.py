"""Start-up: launch -> window shown, and launch -> a connected call on embedded:echo,
against the bare import of PySide6 + aiortc + pyqtgraph (the floor).

    .venv/bin/python bench/startup.py [--runs 3]

Every figure is the wall time from spawning a fresh interpreter to the moment it
says so on stdout (best of --runs; the median is printed too). Offscreen Qt
(QT_QPA_PLATFORM=offscreen), settings in a scratch directory. Target (issue 11):
within 1.5x the floor.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR = "import PySide6.QtWidgets, aiortc, pyqtgraph; print('imported', flush=True)"

APP = r"""
import asyncio, sys, tempfile
from pathlib import Path
import PySide6
import qasync
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from voicedesk.gui.app import configure_application
app = QApplication(sys.argv[:1])
configure_application(app)
loop = qasync.QEventLoop(app)
asyncio.set_event_loop(loop)
from voicedesk.gui.main_window import MainWindow
from voicedesk.gui.settings import AppSettings
from voicedesk.gui.widgets import audio_panel  # noqa: F401 - as the app does
scratch = tempfile.mkdtemp()
window = MainWindow(settings=AppSettings(QSettings(str(Path(scratch) / "s.ini"), QSettings.Format.IniFormat)))
window.show()
app.processEvents()
print("shown" if window.isVisible() else "not shown", flush=True)

async def dial():
    from voicedesk.gui.widgets.dialer import DialRequest
    window.dial(DialRequest(target="embedded:echo", source="tone:440"))
    for _ in range(300):
        await asyncio.sleep(0.01)
        bridge = window.bridge
        if bridge is not None and bridge.state.value == "connected":
            print("connected", flush=True)
            return
        if bridge is not None and bridge.state.is_final:
            print("failed", bridge.call.reason, flush=True)
            return
    print("timeout", flush=True)

loop.run_until_complete(dial())
window.close()
"""


def timed(code: str, marks: tuple[str, ...]) -> dict[str, float]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": tempfile.mkdtemp()}
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    seen: dict[str, float] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        word = line.split()[0] if line.split() else ""
        if word in marks:
            seen[word] = time.monotonic() - started
        elif word:
            raise SystemExit(f"unexpected: {line.strip()}")
        if len(seen) == len(marks):
            break
    proc.kill()
    proc.wait()
    return seen


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"load average {loadavg()}", flush=True)
    timed(FLOOR, ("imported",))  # warm the file cache once
    floors, shown, connected = [], [], []
    for _ in range(args.runs):
        floors.append(timed(FLOOR, ("imported",))["imported"])
        app = timed(APP, ("shown", "connected"))
        shown.append(app["shown"])
        connected.append(app["connected"])
        print(f"  floor {floors[-1]:.2f} s, window {shown[-1]:.2f} s, connected {connected[-1]:.2f} s", flush=True)
    floor = min(floors)
    print(
        f"start-up (best of {args.runs}; median in brackets): bare imports {floor:.2f} s "
        f"({statistics.median(floors):.2f}); window shown {min(shown):.2f} s ({statistics.median(shown):.2f}) = "
        f"{min(shown) / floor:.2f}x the floor; connected call on embedded:echo {min(connected):.2f} s "
        f"({statistics.median(connected):.2f}) = {min(connected) / floor:.2f}x (load average {loadavg()})"
    )


if __name__ == "__main__":
    main()
