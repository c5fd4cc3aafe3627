"""The Embedded agent tab: a server with agent options, their errors, and keys never stored."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.gui.conftest import close_window
from voicedesk.gui.main_window import MainWindow
from voicedesk.gui.settings import AppSettings

pytestmark = pytest.mark.gui


def start(panel, qtbot, agent: str, options: str) -> None:
    panel.agent.setCurrentText(agent)
    panel.port.setValue(0)
    panel.options.setText(options)
    qtbot.mouseClick(panel.toggle, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.running or "embedded agent server:" in panel.status.text(), timeout=10_000)


def test_options_reach_the_agent_and_are_remembered(window, qtbot):
    panel = window.panel("agent")
    start(panel, qtbot, "parrot", "delay=300&vad=energy")
    assert panel.running, panel.status.text()
    assert panel.server.agent_options == {"delay": "300", "vad": "energy"}
    assert not panel.options.isEnabled()  # as the agent and port: fixed while it runs
    qtbot.mouseClick(panel.toggle, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.running and panel.options.isEnabled(), timeout=10_000)
    assert AppSettings().value("panels/agent")["options"] == "delay=300&vad=energy"


def test_an_option_the_agent_does_not_take_is_one_line_and_nothing_starts(window, qtbot):
    panel = window.panel("agent")
    start(panel, qtbot, "parrot", "speed=2")
    assert not panel.running
    assert panel.status.text().startswith("embedded agent server: the parrot agent has no option speed")
    assert window.banner.text() == panel.status.text()
    panel.options.setText("delay=200")  # fixed, it starts
    qtbot.mouseClick(panel.toggle, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.running, timeout=10_000)


def test_a_key_is_used_but_not_stored_and_must_be_typed_again(qtbot, aloop):
    window = MainWindow()
    window.show()
    try:
        panel = window.panel("agent")
        start(panel, qtbot, "voice", "responder=openai&llm_url=http://127.0.0.1:9/v1&llm_key=sk-do-not-store")
        assert panel.running, panel.status.text()
        assert panel.server.agent_options["llm_key"] == "sk-do-not-store"  # this run has it
        stored = AppSettings().value("panels/agent")["options"]
        assert "sk-do-not-store" not in stored and "llm_key=***" in stored
    finally:
        close_window(window, qtbot)
        window.deleteLater()

    again = MainWindow()  # the next start of the app
    again.show()
    try:
        panel = again.panel("agent")
        assert "sk-do-not-store" not in panel.options.text()
        qtbot.mouseClick(panel.toggle, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "type llm_key again" in panel.status.text(), timeout=5_000)
        assert not panel.running
    finally:
        close_window(again, qtbot)
        again.deleteLater()
