"""The type checker runs with the suite (``.ci/run`` runs the suite): mypy over src/voicedesk,
and no file may have more errors than ``.ci/mypy-baseline.txt`` allows (the baseline only shrinks)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_file_has_more_type_errors_than_its_baseline() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "typecheck")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mypy found" in result.stdout  # mypy itself ran (a missing mypy fails above)
