"""Run voicedesk as users do: a real process, its output read back."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def voicedesk(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voicedesk", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@contextmanager
def serve(*args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Start ``voicedesk serve --port 0 …``; yield (base_url, process); stop it with SIGINT."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicedesk", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"(http://[\d.]+:\d+)", line)
        if not match:
            proc.kill()
            raise RuntimeError(f"serve did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
        yield match.group(1), proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def open_fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def stop_process_group(process: subprocess.Popen) -> None:
    """Stop a part started with ``start_new_session=True`` and everything it forked:
    SIGTERM to the group, SIGKILL after 5 s, then SIGKILL again for children that
    outlive the leader by a moment (the group id is still theirs)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
