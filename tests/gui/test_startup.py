"""Start-up: what the window loads before it shows, `gui TARGET --call`, and the parts
built or listed only when first needed (issue 11). Times are in bench/startup.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tests.gui.conftest import close_window
from tests.helpers.pulse import PulseServer, pulse  # noqa: F401 - fixture
from voicedesk.cli import command_modules, commands_needed
from voicedesk.gui.main_window import MainWindow
from voicedesk.gui.settings import AppSettings
from voicedesk.gui.widgets.audio_panel import microphone_spec

pytestmark = pytest.mark.gui

BAD_EXIT_SIGNS = ("Fatal Python error", "QThread: Destroyed", "Traceback", "Task was destroyed but it is pending")
# what the first screen does not need: the HTTP stack, PortAudio, the SDP linter, reports,
# the agents (listing embedded:AGENT targets imports none) and a call's spec and summary
NOT_AT_START = (
    "aiohttp",
    "sounddevice",
    "voicedesk.rtc.sdp.lint",
    "voicedesk.qa.report",
    "voicedesk.rtc.ice_probe",
    "voicedesk.agent.agents",
    "voicedesk.agent.voice_agents",
    "voicedesk.agent.pipeline",
    "voicedesk.rtc.spec",
    "voicedesk.rtc.summary",
)


def app_env(tmp_path) -> dict[str, str]:
    return {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "VOICEDESK_STARTUP_PROBE": "1",
    }


def read_until(proc: subprocess.Popen[str], words: tuple[str, ...], timeout: float) -> list[str]:
    """Lines of stdout up to and including the first that starts with one of ``words``."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
        if line.startswith(words):
            return lines
    raise AssertionError(f"no {words} within {timeout} s: {lines}")


def stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)  # as a desktop session ends the app: hang up, close in order
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"the app did not close on SIGTERM: {err[-2000:]}") from None
    return proc.returncode, err


def launch(tmp_path, *args: str) -> subprocess.Popen[str]:
    """``voicedesk gui ARGS`` with the start-up probe, offscreen, its own settings."""
    return subprocess.Popen(
        [sys.executable, "-m", "voicedesk", "gui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=app_env(tmp_path),
    )


def test_gui_call_connects_at_launch_and_the_app_exits_cleanly(tmp_path):
    proc = launch(tmp_path, "embedded:echo", "--call")
    try:
        lines = read_until(proc, ("connected", "failed"), timeout=60)
    finally:
        status, err = stop(proc)
    assert lines[0] == "shown"
    assert lines[-1].startswith("connected"), lines
    assert status == 0, err[-2000:]
    for sign in BAD_EXIT_SIGNS:
        assert sign not in err, err[-2000:]


def test_gui_call_to_a_refused_url_says_why_and_the_window_stays(tmp_path):
    proc = launch(tmp_path, "http://127.0.0.1:9/api/voice/offer", "--call")
    try:
        lines = read_until(proc, ("connected", "failed"), timeout=60)
        time.sleep(0.3)
        assert proc.poll() is None, "the window closed after a failed call"
    finally:
        status, err = stop(proc)
    assert lines[-1].startswith("failed cannot connect to 127.0.0.1:9"), lines
    assert status == 0, err[-2000:]


def test_gui_call_without_a_target_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "voicedesk", "gui", "--call"],
        capture_output=True,
        text=True,
        timeout=60,
        env=app_env(tmp_path),
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "voicedesk: --call needs a target: voicedesk gui embedded:echo --call"


WATCH_SCRIPT = textwrap.dedent(
    f"""
    import asyncio, gc, sys
    from voicedesk.gui import app as gui_app

    WATCH = {NOT_AT_START!r}
    real_warm = gui_app.warm_call_path

    def warm(then=None, **options):
        print("at-show", *[m for m in WATCH if m in sys.modules], flush=True)
        real_warm(then, **options)
        asyncio.get_running_loop().create_task(wait_then_close())

    async def wait_then_close():
        for _ in range(300):
            if "voicedesk.agent.sessions" in sys.modules and "voicedesk.rtc.signaling.http_json" in sys.modules:
                break
            if "voicedesk.engine.client" in sys.modules and "voicedesk.rtc.sdp.diff" in sys.modules:
                break  # the call runs in the engine process: the window warms only its own part
            await asyncio.sleep(0.05)
        print("warmed", "aiohttp" in sys.modules, flush=True)
        agents = all(m in sys.modules for m in ("voicedesk.agent.agents", "voicedesk.rtc.spec"))
        print("agents warmed", agents, flush=True)
        print("spec warmed", "voicedesk.rtc.spec" in sys.modules, flush=True)
        print("frozen", gc.get_freeze_count() > 10_000, flush=True)
        for window in gui_app.QApplication.topLevelWidgets():
            window.close()

    gui_app.warm_call_path = warm
    from PySide6.QtWidgets import QApplication
    gui_app.QApplication = QApplication
    sys.exit(gui_app.run(gui_app.GuiOptions()))
    """
)


@pytest.mark.parametrize("engine", ["inprocess", "process"])
def test_the_window_shows_before_loading_the_call_path_then_warms_it(tmp_path, engine):
    """The first screen imports neither aiohttp nor PortAudio nor the linter; once it is up,
    the call path (the embedded agent, aiohttp for HTTP targets) is imported while nobody waits for it
    (with the engine process only the window's part: the engine imports the rest),
    and the start-up objects are frozen out of the garbage collector's full passes."""
    env = {k: v for k, v in app_env(tmp_path).items() if k != "VOICEDESK_STARTUP_PROBE"}
    env["VOICEDESK_ENGINE"] = engine
    result = subprocess.run([sys.executable, "-c", WATCH_SCRIPT], capture_output=True, text=True, timeout=90, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.split("\n")
    assert "at-show" in lines, result.stdout  # nothing of NOT_AT_START was loaded
    assert "spec warmed True" in lines, result.stdout  # what dial() needs
    in_window = engine == "inprocess"  # what embedded:echo needs, where the call runs
    assert f"warmed {in_window}" in lines, result.stdout
    assert f"agents warmed {in_window}" in lines, result.stdout
    assert "frozen True" in lines, result.stdout


def test_audio_devices_are_listed_when_first_needed_and_a_stored_one_is_kept(pulse: PulseServer, qtbot, aloop):  # noqa: F811
    stored = AppSettings()
    stored.set_value("panels/audio/output", "Speaker that was unplugged")
    stored.set_value("panels/audio/input", "Microphone that was unplugged")
    window = MainWindow()
    window.show()
    qtbot.waitExposed(window)
    try:
        panel = window.panel("audio")
        assert not panel.devices_listed  # the window came up without starting PortAudio
        assert panel.output_device.currentText() == "Speaker that was unplugged"  # as the user left it
        # a call from the microphone asks for the device: listing finds it gone, the default serves
        assert microphone_spec() == "mic"
        assert panel.devices_listed
        assert panel.output_device.count() > 1  # "Default device" and what PulseAudio offers
        assert panel.output_device.currentData() is None
        # listing does not overwrite the stored choice: if the device comes back, it is picked again
        assert AppSettings().value("panels/audio/output") == "Speaker that was unplugged"
    finally:
        close_window(window, qtbot)
        window.deleteLater()


def test_opening_the_audio_tab_lists_the_devices(pulse: PulseServer, window, qtbot):  # noqa: F811
    panel = window.panel("audio")
    assert not panel.devices_listed
    window.tabs.setCurrentIndex([window.tabs.tabText(i) for i in range(window.tabs.count())].index("Audio"))
    qtbot.waitUntil(lambda: panel.devices_listed, timeout=5_000)
    assert panel.input_device.count() > 1


def test_the_qa_tab_builds_its_dump_graphs_when_opened(window, qtbot):
    panel = window.panel("qa")
    assert not panel._plots.built
    window.tabs.setCurrentIndex([window.tabs.tabText(i) for i in range(window.tabs.count())].index("QA"))
    qtbot.waitUntil(lambda: panel._plots.built, timeout=5_000)
    assert panel.plots.point_count == 0


@pytest.mark.parametrize(
    ("argv", "needed"),
    [
        ([], ["gui", "call"]),  # the window, or the embedded call without a display
        (["-v"], ["gui", "call"]),
        (["--screenshot", "call", "--smoke-test"], ["gui", "call"]),  # a file named "call"
        (["sdp", "lint", "x.sdp"], ["sdp"]),
        (["-v", "call", "embedded:echo"], ["call"]),
        (["--help"], None),
        (["calll"], None),  # argparse must list the real commands
    ],
)
def test_the_command_line_loads_only_the_command_it_runs(argv, needed):
    assert commands_needed(argv) == needed
    assert {"call", "gui", "sdp"} <= set(command_modules())
