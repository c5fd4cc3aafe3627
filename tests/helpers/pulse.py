"""A real PulseAudio for audio tests (REAL_PARTS.md): null sink + virtual microphone.

``start_pulse(tmp)`` runs ``pulseaudio`` in the foreground of its own session, in a
private runtime dir, with:

* ``vd_sink``   a null sink, the default output ("the speaker"); its monitor
  ``vd_sink.monitor`` is what a listener would hear;
* ``vd_mic``    a second null sink; whatever is played into it comes out of
  ``vd_mic_src`` (a remap of its monitor), the default input ("the microphone").

An idle null sink renders in 2-second blocks, so a reader of its monitor gets
nothing for up to 2 s and then a lump. Two "keeper" streams (silence played into
``vd_mic``, a recorder on ``vd_sink.monitor``, both at 10 ms latency) keep both
sinks ticking at 10 ms, as a sound card would. Everything is stopped by pid.

PortAudio reaches the server through ALSA's ``pulse`` plugin; ``PULSE_SERVER``
points libpulse at this server (set in ``os.environ`` by the fixture, and in
``env`` for subprocesses), and PortAudio is re-initialized to see it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

PULSEAUDIO = shutil.which("pulseaudio")
SINK = "vd_sink"
MIC_SINK = "vd_mic"
MIC_SOURCE = "vd_mic_src"
RATE = 48_000


def _kill(proc: subprocess.Popen, grace: float = 3.0) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)


@dataclass
class MonitorRecording:
    """Raw float32 mono 48 kHz from a source, read by a thread until ``stop``."""

    proc: subprocess.Popen
    started_at: float
    _chunks: list[bytes] = field(default_factory=list)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        def pump() -> None:
            assert self.proc.stdout is not None
            while chunk := self.proc.stdout.read(4800):
                self._chunks.append(chunk)

        self._thread = threading.Thread(target=pump, name="parec reader", daemon=True)
        self._thread.start()

    def samples(self) -> np.ndarray:
        data = b"".join(self._chunks)
        return np.frombuffer(data[: len(data) // 4 * 4], dtype="<f4").copy()

    def stop(self) -> np.ndarray:
        _kill(self.proc)
        if self._thread is not None:
            self._thread.join(5)
        return self.samples()


@dataclass
class PulseServer:
    runtime_dir: Path
    proc: subprocess.Popen
    keepers: list[subprocess.Popen] = field(default_factory=list)
    players: list[subprocess.Popen] = field(default_factory=list)

    @property
    def socket(self) -> Path:
        return self.runtime_dir / "pulse" / "native"

    @property
    def env(self) -> dict[str, str]:
        """Environment for a process that should use this server."""
        return {"PULSE_SERVER": f"unix:{self.socket}", "XDG_RUNTIME_DIR": str(self.runtime_dir)}

    @property
    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.runtime_dir / "pulse.log").read_text(errors="replace")[-3000:]
        return ""

    def pactl(self, *args: str) -> str:
        out = subprocess.run(
            ["pactl", *args], env={**os.environ, **self.env}, capture_output=True, text=True, timeout=10, check=False
        )
        if out.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(args)} failed: {out.stderr.strip()}")
        return out.stdout

    def _client(self, args: list[str], **kwargs: object) -> subprocess.Popen:
        return subprocess.Popen(args, env={**os.environ, **self.env}, start_new_session=True, **kwargs)  # type: ignore[call-overload]

    def play_into_mic(self, samples: np.ndarray, latency_ms: int = 20) -> subprocess.Popen:
        """Play mono float samples (48 kHz) into the virtual microphone; returns the player."""
        proc = self._client(
            ["pacat", "--playback", f"--device={MIC_SINK}", f"--latency-msec={latency_ms}",
             f"--rate={RATE}", "--channels=1", "--format=float32le", "--raw"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        assert proc.stdin is not None

        def feed() -> None:
            with contextlib.suppress(BrokenPipeError, ValueError, OSError):
                proc.stdin.write(np.asarray(samples, dtype="<f4").tobytes())
                proc.stdin.close()

        threading.Thread(target=feed, name="pacat feeder", daemon=True).start()
        self.players.append(proc)
        return proc

    def record(self, source: str = f"{SINK}.monitor", latency_ms: int = 10) -> MonitorRecording:
        proc = self._client(
            ["parec", f"--device={source}", f"--latency-msec={latency_ms}",
             f"--rate={RATE}", "--channels=1", "--format=float32le", "--raw"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        recording = MonitorRecording(proc, time.monotonic())
        recording.start()
        self.players.append(proc)
        return recording

    def stop(self) -> None:
        for proc in [*self.players, *self.keepers]:
            _kill(proc)
        _kill(self.proc)

    def kill(self) -> None:
        """The sound server dies (a device vanishing, as far as the app can tell)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)


def start_pulse(wait: float = 10.0) -> PulseServer:
    if PULSEAUDIO is None or shutil.which("pactl") is None or shutil.which("pacat") is None:
        pytest.skip("PulseAudio is not installed: apt-get install pulseaudio pulseaudio-utils")
    # short path: unix socket paths are limited to 108 bytes, pytest's tmp dirs can be longer
    runtime_dir = Path(tempfile.mkdtemp(prefix="vd-pulse-"))
    runtime_dir.chmod(0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime_dir), "HOME": str(runtime_dir)}
    env.pop("PULSE_SERVER", None)
    proc = subprocess.Popen(
        [PULSEAUDIO, "--daemonize=no", "--exit-idle-time=-1", "--disallow-exit", "-n", "--disable-shm=yes",
         "--load=module-native-protocol-unix auth-anonymous=1",
         f"--load=module-null-sink sink_name={SINK} rate={RATE}",
         f"--load=module-null-sink sink_name={MIC_SINK} rate={RATE}",
         f"--load=module-remap-source master={MIC_SINK}.monitor source_name={MIC_SOURCE}",
         "--load=module-always-sink", f"--log-target=file:{runtime_dir / 'pulse.log'}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    server = PulseServer(runtime_dir, proc)
    deadline = time.monotonic() + wait
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"pulseaudio exited with {proc.returncode}: {server.log}")
        if server.socket.exists():
            try:
                server.pactl("info")
                break
            except RuntimeError:
                pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"pulseaudio did not answer within {wait:g} s: {server.log}")
        time.sleep(0.05)
    server.pactl("set-default-sink", SINK)
    server.pactl("set-default-source", MIC_SOURCE)
    server.keepers.append(
        server._client(
            ["pacat", "--playback", f"--device={MIC_SINK}", "--latency-msec=10", "--raw", "/dev/zero"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    server.keepers.append(
        server._client(
            ["parec", f"--device={SINK}.monitor", "--latency-msec=10", "--raw"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    time.sleep(2.2)  # let the sinks leave their idle 2-second block (see the module docstring)
    return server


def refresh_portaudio() -> None:
    from voicedesk.media import devices

    with contextlib.suppress(Exception):
        devices.refresh()


@contextlib.contextmanager
def pulse_environment(server: PulseServer | None) -> Iterator[None]:
    """Point this process's libpulse at ``server`` (None: at no server at all)."""
    saved = {name: os.environ.get(name) for name in ("PULSE_SERVER",)}
    if server is None:
        # a socket path that does not exist: "no sound server running"
        os.environ["PULSE_SERVER"] = f"unix:{tempfile.gettempdir()}/vd-no-pulse-{os.getpid()}/native"
    else:
        os.environ["PULSE_SERVER"] = server.env["PULSE_SERVER"]
    refresh_portaudio()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        refresh_portaudio()


@contextlib.contextmanager
def running_pulse() -> Iterator[PulseServer]:
    server = start_pulse()
    try:
        with pulse_environment(server):
            yield server
    finally:
        server.stop()
        shutil.rmtree(server.runtime_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def pulse() -> Iterator[PulseServer]:
    """A PulseAudio with a null-sink speaker and a virtual microphone, for one test module."""
    with running_pulse() as server:
        yield server


@pytest.fixture
def own_pulse() -> Iterator[PulseServer]:
    """A PulseAudio for one test only (tests that kill it)."""
    with running_pulse() as server:
        yield server


@pytest.fixture
def no_sound_server() -> Iterator[None]:
    """This process's PortAudio sees no sound server (and no devices)."""
    with pulse_environment(None):
        yield
