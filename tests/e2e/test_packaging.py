"""The PyInstaller bundle, built from this tree, runs without the build's virtualenv.

Slow (about two minutes to build on 2 cores) but CI runs it: QA machines get exactly
this folder. The build starts in the background when this module is collected
(tests/helpers/bundle_build.py) and these tests run last."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

# the first test waits for the background build (tests/helpers/bundle_build.py): 100–200 s niced on
# 2 busy cores (its analysis follows CTranslate2, PyAV, Qt)
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bundle(background_bundle_build) -> Path:
    if shutil.which("unshare") is None:
        pytest.skip("util-linux unshare is needed to hide the virtualenv from the bundle")
    assert background_bundle_build is not None, "the build starts when tests/e2e/test_packaging.py is collected"
    code, output = background_bundle_build.wait()
    assert code == 0, output
    out = background_bundle_build.dist
    exe = out / "VoiceDesk" / "VoiceDesk"
    assert exe.is_file() and os.access(exe, os.X_OK)
    assert list(out.glob("VoiceDesk-*-linux-*.tar.gz")), "the archive was not made"
    return exe


def run_hidden(exe: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the bundle with the build's virtualenv and source tree made invisible
    (an empty directory mounted over each, in a private mount namespace)."""
    empty = exe.parent.parent / "empty"
    empty.mkdir(exist_ok=True)
    hide = " && ".join(f"mount --bind {empty} {path}" for path in (ROOT / ".venv", ROOT / "src"))
    command = f'{hide} && exec "$0" "$@"'
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(exe.parent.parent),
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_RUNTIME_DIR": str(exe.parent.parent),
    }
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", command, str(exe), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=exe.parent.parent,
    )


def test_smoke_test_reports_a_working_bundle(bundle):
    result = run_hidden(bundle, "--smoke-test", "--screenshot", str(bundle.parent.parent / "shot.png"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Fatal Python error" not in result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["state"] == "connected"
    assert abs(report["rx_peak_hz"] - 1000) < 20
    assert report["frozen"] is True
    assert report["versions"]["aiortc"] and report["versions"]["PySide6-Essentials"]
    assert report["c_extensions"]["google_crc32c_fast_path"] is True
    assert all(report["c_extensions"].values()), report["c_extensions"]
    assert "inputs" in report["audio_devices"]
    assert (bundle.parent.parent / "shot.png").stat().st_size > 10_000


def test_command_line_call_from_the_bundle(bundle):
    result = run_hidden(bundle, "call", "embedded:echo", "--source", "tone:700", "--duration", "2", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["state"] == "connected"
    assert abs(summary["rx_peak_hz"] - 700) < 5


def test_the_bundle_hears_replies_with_its_own_whisper_model(bundle, tmp_path):
    """faster-whisper, CTranslate2 and tiny.en are in the bundle: the worker (a multiprocessing
    process in a frozen app) transcribes the parrot's reply; a model path that is not there is
    one line before dialling."""
    missing = tmp_path / "no-model"
    bad = run_hidden(bundle, "call", "embedded:echo", "--transcribe", "--stt", "whisper", "--stt-model", str(missing))
    assert bad.returncode != 0
    assert f"stt model {missing}: no such directory; expected a CTranslate2 Whisper model directory" in bad.stderr
    assert "Traceback" not in bad.stderr
    said = "your code is four five seven two"
    args = ["--source", f"say:{said}", "--duration", "7", "--transcribe", "--stt", "whisper", "--json"]
    result = run_hidden(bundle, "call", "embedded:parrot?delay=100", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["transcripts_recognizer"] == "whisper tiny.en"
    (heard,) = summary["transcripts"]
    assert "4572" in heard["text"].replace(" ", ""), heard
    assert len(heard["words"]) >= 4 and heard["unavailable"] is None


def test_bundle_really_cannot_see_the_virtualenv(bundle):
    """The hiding works: a Python from the venv is gone inside the namespace."""
    empty = bundle.parent.parent / "empty"
    empty.mkdir(exist_ok=True)
    venv_python = ROOT / ".venv" / "bin" / "python"
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount --bind {empty} {ROOT / '.venv'} && test -e {venv_python}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert probe.returncode == 1
