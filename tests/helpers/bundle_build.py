"""The PyInstaller build for tests/e2e/test_packaging.py, started in the background.

The build is the suite's longest single step (about two minutes on 2 cores) and almost all
of it is one CPU-bound process. Started when collection ends, at the lowest CPU and I/O
priority, it uses the core the mostly-waiting call tests leave idle; the packaging tests run
last and wait for it. Niced work yields to the call tests at once, so their timing is not
what it competes with.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT_S = 900.0


class BackgroundBuild:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="voicedesk-bundle-"))
        self.dist = self.dir / "dist"
        self.log = self.dir / "build.log"
        env = {
            **os.environ,
            "DIST": str(self.dist),
            "WORK": str(self.dir / "build"),
            "PYTHON": str(ROOT / ".venv" / "bin" / "python"),
        }
        command = [str(ROOT / "packaging" / "build.sh")]
        if shutil.which("ionice"):
            command = ["ionice", "-c", "3", *command]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
                preexec_fn=lambda: os.nice(19),
            )

    def wait(self) -> tuple[int, str]:
        """The build's exit status and the end of its output."""
        try:
            code = self.process.wait(BUILD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        return code, self.log.read_text(errors="replace")[-6000:]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
