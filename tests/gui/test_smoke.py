"""``voicedesk gui --smoke-test`` as the packaging check runs it: a real process, offscreen."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers.processes import voicedesk

pytestmark = pytest.mark.gui

BAD_EXIT_SIGNS = ("Fatal Python error", "QThread: Destroyed", "Traceback", "Task was destroyed but it is pending")


def test_smoke_test_calls_echo_prints_json_saves_png_and_exits_cleanly(tmp_path):
    shot = tmp_path / "window.png"
    env = {"QT_QPA_PLATFORM": "offscreen", "VOICEDESK_MEDIA_CPU": "auto"}  # as shipped (the suite turns it off)
    result = voicedesk("gui", "--smoke-test", "--screenshot", str(shot), timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    line = result.stdout.strip().splitlines()[-1]
    data = json.loads(line)
    assert data["state"] == "connected"
    assert abs(data["rx_peak_hz"] - 1000) < 20  # the tone came back from the echo agent
    assert data["frames_drawn"] >= 10
    cpus = os.sched_getaffinity(0)
    if len(cpus) >= 2:  # the engine's media loop alone on the last CPU, the window on the others
        assert data["media_cpu"] == {"cpu": max(cpus), "engine_loop": [max(cpus)], "window": sorted(cpus - {max(cpus)})}
    for sign in BAD_EXIT_SIGNS:
        assert sign not in result.stderr, result.stderr[-2000:]
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


def test_without_a_display_the_window_says_so_in_one_line():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run(
        [sys.executable, "-m", "voicedesk", "gui"], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 1
    assert result.stderr.startswith("voicedesk: no display found") and result.stderr.count("\n") == 1


def test_without_a_display_the_default_command_still_calls_the_embedded_agent():
    """`voicedesk` with no command on a headless box (the README's first command there):
    one line says why there is no window, and the main job runs in the terminal."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([sys.executable, "-m", "voicedesk"], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("voicedesk: no display found, so no window: calling the embedded echo agent")
    assert "state          connected" in result.stdout
    assert "peak 440.0 Hz" in result.stdout  # the default tone came back from the echo agent


def test_screenshot_without_smoke_test_is_one_line():
    result = voicedesk("gui", "--screenshot", "x.png", timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == "voicedesk: --screenshot works with --smoke-test"
