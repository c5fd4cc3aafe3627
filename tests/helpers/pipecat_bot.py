"""A real pipecat bot (tests/fixtures/pipecat_bot/bot.py) run by pipecat's own runner."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers.net import free_port
from tests.helpers.processes import stop_process_group

# its own directory: a script puts its folder first on sys.path, where tests/helpers would shadow modules
BOT = Path(__file__).parents[1] / "fixtures" / "pipecat_bot" / "bot.py"
# the bot that hears speech (Silero VAD, Whisper, rules for the LLM, espeak-ng)
SPEECH_BOT = Path(__file__).parents[1] / "fixtures" / "pipecat_speech_bot" / "bot.py"


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def running_pipecat_bot(start_timeout: float = 90.0, bot: Path = BOT) -> Iterator[str]:
    """Start the bot on a free port; yield its base URL (``http://127.0.0.1:P``); stop it by pid.
    pipecat's import takes seconds (more on a loaded machine): start one per test module."""
    if importlib.util.find_spec("pipecat") is None:
        pytest.skip("pipecat is not installed (scripts/setup.sh --test installs pipecat-ai[webrtc,runner])")
    port = free_port()
    log = tempfile.TemporaryFile("w+")  # pipecat logs a lot: a pipe nobody reads would fill and stall it
    process = subprocess.Popen(
        [sys.executable, str(bot), "-t", "webrtc", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + start_timeout
        while not _answers(port):
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"the pipecat bot exited at start: {log.read()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the pipecat bot did not listen on port {port} within {start_timeout:g} s")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process_group(process)
        log.close()
