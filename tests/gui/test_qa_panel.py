"""The QA tab: a call's report exported from the window, a Chrome dump drawn in the graphs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

pytestmark = pytest.mark.gui

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "webrtc_internals_dump.json"


def test_a_call_placed_in_the_window_exports_its_report(window, qtbot, tmp_path):
    panel = window.panel("qa")
    assert not panel.export.isEnabled()
    window.dialer.set_target("embedded:tone")
    qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.state.state == "connected", timeout=30_000)
    qtbot.waitUntil(lambda: window.stats.point_count >= 2, timeout=15_000)
    qtbot.mouseClick(window.dialer.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.call_button.isEnabled(), timeout=15_000)
    assert panel.export.isEnabled()

    panel.mask.setChecked(True)
    panel.export_report(str(tmp_path / "call.zip"))  # written by the engine process, where the recordings are
    qtbot.waitUntil(lambda: "Report written to" in panel.export_status.text(), timeout=30_000)
    where = tmp_path / "call.zip"
    assert where.exists() and str(where) in panel.export_status.text()
    import zipfile

    with zipfile.ZipFile(where) as archive:
        names = set(archive.namelist())
        summary = json.loads(archive.read("summary.json"))
        offer = archive.read("offer.sdp").decode()
    assert {"report.html", "received.wav", "sent.wav", "stats.csv", "webrtc_internals_dump.json"} <= names
    assert summary["packets_received"] > 0 and summary["rx_peak_hz"] == pytest.approx(440, abs=10)
    assert "ip-1" in offer and "127.0.0.1" not in offer


def test_a_chrome_dump_is_drawn_in_the_graphs(window, tmp_path):
    panel = window.panel("qa")
    copy = tmp_path / "customer_dump.txt"
    shutil.copy(FIXTURE, copy)
    assert panel.load_dump(str(copy))
    data = json.loads(FIXTURE.read_text())["PeerConnections"]
    assert panel.connections.count() == len(data) == 2 and panel.connections.isEnabled()

    def received(key: str) -> list[int]:
        return next(
            json.loads(v["values"])
            for k, v in data[key]["stats"].items()
            if v["statsType"] == "inbound-rtp" and k.endswith("-packetsReceived")
        )

    for index in (0, 1):  # pick each connection: the graphs follow
        panel.connections.setCurrentIndex(index)
        key = panel.connections.currentData()
        assert panel.plots.point_count == len(received(key))
        assert [s.packets_received for s in panel.plots.samples] == received(key)
        assert panel.plots.finite_points("rtt_ms") >= len(received(key)) - 1
        assert f"customer_dump.txt: connection {key}" in panel.dump_status.text()


def test_a_file_that_is_not_a_dump_says_so(window, tmp_path):
    panel = window.panel("qa")
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": "world"}')
    assert not panel.load_dump(str(bad))
    assert "not a chrome://webrtc-internals dump" in panel.dump_status.text()
    assert panel.plots.point_count == 0


def test_a_scenario_runs_repeatedly_against_the_dialled_target_and_a_bad_one_says_where(window, qtbot, tmp_path):
    panel = window.panel("qa")
    scenario = tmp_path / "echo.yaml"
    # its own target is a dead port: the runs must call the dialled one
    scenario.write_text(
        "name: tone-echo\ntarget: http://127.0.0.1:9/offer\n"
        "steps:\n  - say: {tone: 440, seconds: 0.4}\n  - wait_reply: {timeout: 5}\n"
    )
    assert not panel.run_button.isEnabled()
    bad = tmp_path / "bad.yaml"
    bad.write_text("target: embedded:echo\ncaller:\n  otherwise: x\n  max_turns: 0\n")
    assert not panel.load_scenario(str(bad))
    assert panel.runs_status.text() == f"{bad}:4: caller.max_turns: expected a whole number 1–200, got 0"
    assert panel.load_scenario(str(scenario)) and panel.run_button.isEnabled()
    window.dialer.set_target("embedded:echo")
    panel.runs.setValue(2)
    panel.parallel.setValue(2)
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(panel.results) == 2 and panel.run_button.isEnabled(), timeout=60_000)
    assert panel.runs_status.text() == "tone-echo: 2 of 2 runs, 2 passed (100 %)"
    assert panel.run_list.count() == 2 and panel.run_list.item(0).text().startswith("run ")
    assert "turn 1: said tone 440 Hz for 0.4 s; voice-to-voice" in panel.conversation.toPlainText()
    assert "ok   wait for the reply (up to 5 s): reply" in panel.conversation.toPlainText()
