"""The PyInstaller build for tests/e2e/test_packaging.py, started in the background.

The build is the suite's longest single step (about two minutes on 2 cores) and almost all
of it is one CPU-bound process. Started when collection ends, at the lowest CPU and I/O
priority, it uses the core the mostly-waiting call tests leave idle; the packaging tests run
last and wait for it. Niced work yields to the call tests at once, so their timing is not
what it competes with.

One build per test run: with pytest-xdist every worker collects the packaging module, so the
first to create the run's directory starts the build and the others find it there; the build
writes its exit status to a file any process can wait for, and the process that ends the run
(the xdist controller, or pytest alone) removes it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT_S = 900.0


class BackgroundBuild:
    def __init__(self, run_id: str) -> None:
        self.dir = Path(tempfile.gettempdir()) / f"voicedesk-bundle-{run_id}"
        self.dist = self.dir / "dist"
        self.log = self.dir / "build.log"
        self.status = self.dir / "exit-status"

    def start_or_join(self) -> BackgroundBuild:
        try:
            self.dir.mkdir()
        except FileExistsError:
            return self  # another worker of this run started it
        env = {
            **os.environ,
            "DIST": str(self.dist),
            "WORK": str(self.dir / "build"),
            "PYTHON": str(ROOT / ".venv" / "bin" / "python"),
        }
        script = f'"{ROOT / "packaging" / "build.sh"}" > "{self.log}" 2>&1; echo $? > "{self.status}.tmp"; '
        script += f'mv "{self.status}.tmp" "{self.status}"'
        command = ["sh", "-c", script]
        if shutil.which("ionice"):
            command = ["ionice", "-c", "3", *command]
        process = subprocess.Popen(command, env=env, cwd=ROOT, preexec_fn=lambda: os.nice(19), start_new_session=True)
        (self.dir / "pid").write_text(str(process.pid))
        return self

    def wait(self) -> tuple[int, str]:
        """The build's exit status and the end of its output."""
        deadline = time.monotonic() + BUILD_TIMEOUT_S
        while not self.status.exists():
            if time.monotonic() > deadline:
                self._kill()
                return -1, f"the build did not finish in {BUILD_TIMEOUT_S:.0f} s\n" + self._log_tail()
            time.sleep(0.5)
        return int(self.status.read_text().strip() or -1), self._log_tail()

    def _log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-6000:] if self.log.exists() else ""

    def _kill(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            os.killpg(int((self.dir / "pid").read_text()), signal.SIGKILL)

    def remove(self) -> None:
        """End the build if it still runs, and remove everything it made."""
        if not self.status.exists():
            self._kill()
        shutil.rmtree(self.dir, ignore_errors=True)
