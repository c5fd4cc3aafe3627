"""The window with its call in the engine process (voicedesk/engine/): a crashed engine is one
line on screen and the window returns to idle; the app leaves no process behind."""

from __future__ import annotations

import os
import signal

import pytest
from PySide6.QtCore import Qt

from tests.gui.test_startup import BAD_EXIT_SIGNS, launch, read_until, stop
from tests.helpers.processes import descendants, ended, wait_until
from voicedesk.media.pcm import dominant_frequency

pytestmark = pytest.mark.gui

CONNECT_MS = 30_000


def test_a_killed_engine_is_one_line_and_the_window_returns_to_idle(window, qtbot):
    assert window.engine_mode == "process"
    window.dialer.set_target("embedded:echo")
    qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.state.state == "connected", timeout=CONNECT_MS)
    assert window.bridge.remote and window.paint_gate is None  # nothing to gate: the media is elsewhere
    pid = window.engine.pid
    assert pid is not None and pid != os.getpid()

    os.kill(pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: window.dialer.call_button.isEnabled(), timeout=15_000)  # idle, not frozen
    assert window.banner.text() == "the engine process stopped unexpectedly (exit status -9)"
    assert window.dialer.state.state == "failed"

    qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)  # the next call gets a new engine
    qtbot.waitUntil(lambda: window.dialer.state.state == "connected", timeout=CONNECT_MS)
    assert window.engine.pid not in (None, pid)
    qtbot.waitUntil(lambda: dominant_frequency(window.waveforms.received.samples(1.0)) is not None, timeout=15_000)
    qtbot.mouseClick(window.dialer.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.call_button.isEnabled(), timeout=15_000)


def test_closing_the_app_during_a_call_leaves_no_engine_behind(tmp_path):
    proc = launch(tmp_path, "embedded:echo", "--call")
    engines: list[int] = []
    try:
        lines = read_until(proc, ("connected", "failed"), timeout=60)
        engines = descendants(proc.pid)
    finally:
        status, err = stop(proc)
    assert lines[-1].startswith("connected"), lines
    assert engines, "the call did not run in a child process"
    assert wait_until(lambda: all(ended(pid) for pid in engines), timeout=10), f"left behind: {engines}"
    assert status == 0, err[-2000:]
    for sign in BAD_EXIT_SIGNS:
        assert sign not in err, err[-2000:]


def test_closing_the_window_while_the_engine_starts_leaves_no_process(qtbot, aloop):
    from tests.gui.conftest import close_window
    from voicedesk.gui.main_window import MainWindow

    window = MainWindow()  # with an engine of its own, which it closes
    window.show()
    qtbot.waitExposed(window)
    window.prestart_engine()  # as the app does once shown; the child is still importing
    pid = window.engine.pid
    assert pid is not None
    close_window(window, qtbot)
    window.deleteLater()
    assert wait_until(lambda: ended(pid), timeout=10)
