"""A real browser as a peer nobody here wrote: headless Chromium (REAL_PARTS.md).

Started in its own process group with a fresh user-data-dir, a fake microphone
that plays a WAV file we generate, and the flags that let WebRTC use loopback;
the whole group is killed when the test is done.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.processes import stop_process_group

FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--allow-loopback-in-peer-connection",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-default-apps",
    "--disable-features=WebRtcHideLocalIpsWithMdns,MediaRouter,OptimizationHints,Translate",
    "--password-store=basic",
    "--use-mock-keychain",
]


@dataclass
class Chromium:
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def write_tone_wav(path: Path, frequency: float, seconds: float = 20.0, rate: int = 48_000) -> Path:
    """A 48 kHz mono 16-bit tone at -12 dBFS for ``--use-file-for-fake-audio-capture``."""
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.25 * np.sin(2 * np.pi * frequency * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


@contextlib.contextmanager
def running_chromium(
    url: str, tmp_path: Path, *, fake_audio: Path | None = None, extra_flags: list[str] | None = None
) -> Iterator[Chromium]:
    binary = chromium_binary()
    if binary is None:
        pytest.skip("Chromium is not installed (apt-get install chromium, or scripts/setup.sh --test)")
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    flags = [*FLAGS, f"--user-data-dir={profile}"]
    if fake_audio is not None:
        flags.append(f"--use-file-for-fake-audio-capture={fake_audio}")
    flags += extra_flags or []
    log = tmp_path / "chromium.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [binary, *flags, url],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: renderer, GPU and utility processes go with it
        )
    try:
        yield Chromium(process, log)
    finally:
        stop_process_group(process)
