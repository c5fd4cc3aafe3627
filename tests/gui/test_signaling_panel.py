"""The Signaling tab: what the call's signaling sent and received, secrets masked."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported

import pytest
from PySide6.QtCore import Qt

from voicedesk.rtc.signaling.log import SignalingExchanged

pytestmark = pytest.mark.gui


def make_panel(qtbot):
    from voicedesk.gui.widgets.panel import PanelContext
    from voicedesk.gui.widgets.signaling_panel import SignalingPanel

    context = PanelContext(
        settings=None,  # type: ignore[arg-type] - the panel keeps no settings
        palette=lambda: None,  # type: ignore[arg-type,return-value]
        show_message=lambda text, error: None,
        set_target=lambda target: None,
        current_bridge=lambda: None,
    )
    panel = SignalingPanel(context)
    qtbot.addWidget(panel)
    return panel


def test_rows_and_details(qtbot):
    panel = make_panel(qtbot)
    panel.add_exchange(
        SignalingExchanged(
            "whip",
            "POST",
            "http://h/whip",
            201,
            "Created",
            request_headers=(("Content-Type", "application/sdp"), ("Authorization", "Bearer ***")),
            response_headers=(("Location", "/whip/sessions/abc"),),
            request_bytes=1500,
            response_bytes=900,
            elapsed_ms=12.0,
            request_body="v=0\r\no=- 1 1 IN IP4 0.0.0.0",
            response_body="v=0\r\n",
            t_ms=40.0,
        )
    )
    panel.add_exchange(SignalingExchanged("whip", "DELETE", "http://h/whip/sessions/abc", error="cannot connect"))
    assert panel.table.rowCount() == 2
    cells = [panel.table.item(0, c).text() for c in range(panel.table.columnCount())]
    assert cells == ["40", "POST", "http://h/whip", "201 Created", "12", "1.5 kB", "900 B"]
    assert panel.table.item(1, 3).text() == "cannot connect"
    assert panel.table.item(1, 3).foreground().color() == Qt.GlobalColor.red
    panel.table.selectRow(0)
    text = panel.detail.toPlainText()
    assert "Authorization: Bearer ***" in text and "Location: /whip/sessions/abc" in text and "HTTP 201 Created" in text


def test_a_whip_call_from_the_window_fills_the_tab(qtbot, aloop):
    """The real window calls the embedded server's WHIP endpoint; the tab lists OPTIONS, POST, DELETE."""
    from tests.helpers.calls import running_server
    from voicedesk.gui.main_window import MainWindow

    window = MainWindow()
    window.show()
    qtbot.waitExposed(window)
    server_box: dict = {}

    async def start_server():
        server_box["cm"] = running_server("echo")
        server_box["server"] = await server_box["cm"].__aenter__()

    task = aloop.create_task(start_server(), name="test server start")
    qtbot.waitUntil(task.done, timeout=10_000)
    server = server_box["server"]
    try:
        window.dialer.set_target(f"whip+{server.base_url}/whip")
        qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.dialer.state.state == "connected", timeout=20_000)
        panel = window.panel("signaling")
        assert "WHIP to" in panel.summary.text()
        qtbot.mouseClick(window.dialer.hangup_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: panel.table.rowCount() == 3, timeout=10_000)
        assert [panel.table.item(r, 1).text() for r in range(3)] == ["OPTIONS", "POST", "DELETE"]
        assert [panel.table.item(r, 3).text() for r in range(3)] == ["204 No Content", "201 Created", "200 OK"]
    finally:
        window.close()
        qtbot.waitUntil(lambda: window.is_shut_down, timeout=30_000)
        stop = aloop.create_task(server_box["cm"].__aexit__(None, None, None), name="test server stop")
        qtbot.waitUntil(stop.done, timeout=15_000)
        window.deleteLater()
