"""Run voicedesk as users do: a real process, its output read back."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def voicedesk(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voicedesk", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str
    ended_at: float  # time.monotonic() when the process closed its stderr (it exited)


class LiveVoicedesk:
    """``voicedesk …`` running in the background, its stderr read as it comes with the
    moment each line came (to act at a point of a call: "connected", then kill something)."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "voicedesk", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[tuple[float, str]] = []
        self.ended_at: float | None = None
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="voicedesk stderr", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
                self._changed.notify_all()
        self.process.stderr.close()
        with self._changed:
            self.ended_at = time.monotonic()
            self._changed.notify_all()

    def wait_for(self, text: str, timeout: float = 30.0) -> tuple[float, str]:
        """The first stderr line containing ``text`` and when it came; AssertionError if none did."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for at, line in self.lines:
                    if text in line:
                        return at, line
                left = deadline - time.monotonic()
                if left <= 0 or self.ended_at is not None:
                    raise AssertionError(f"no line with {text!r} on stderr: {self.stderr()!r}")
                self._changed.wait(left)

    def stderr(self) -> str:
        with self._changed:
            return "\n".join(line for _, line in self.lines)

    def __enter__(self) -> LiveVoicedesk:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:  # a test that failed half-way leaves nothing running
            self.process.kill()
            self.process.wait(5)

    def finish(self, timeout: float = 60.0) -> Finished:
        try:
            self.process.wait(timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(5)
        self._reader.join(5)
        assert self.process.stdout is not None
        stdout = self.process.stdout.read()
        self.process.stdout.close()
        return Finished(self.process.returncode, stdout, self.stderr(), self.ended_at or time.monotonic())


@dataclass
class Served:
    base_url: str
    first_line: str  # what serve printed when it was ready
    process: subprocess.Popen[str]


@contextmanager
def serve_started(*args: str, launcher: tuple[str, ...] = ()) -> Iterator[Served]:
    """Start ``voicedesk serve --port 0 …`` (behind ``launcher``, e.g. ``ip netns exec NS``),
    wait for its start-up line; stop it with SIGINT."""
    proc = subprocess.Popen(
        [*launcher, sys.executable, "-m", "voicedesk", "serve", "--port", "0", *args],
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
        yield Served(match.group(1), line, proc)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@contextmanager
def serve(*args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Start ``voicedesk serve --port 0 …``; yield (base_url, process); stop it with SIGINT."""
    with serve_started(*args) as served:
        yield served.base_url, served.process


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


def descendants(pid: int) -> list[int]:
    """The pids of every process started by ``pid`` and by those, now (Linux ``/proc``)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended meanwhile
        parents[int(stat.parent.name)] = int(fields[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def ended(pid: int) -> bool:
    """``pid`` is gone or a zombie (ended, not yet reaped by its parent)."""
    try:
        return "State:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
