"""The ICE lab tab: presets, a probe against a real coturn, and the candidate pairs of a relay-only call."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from tests.helpers.turn import Coturn, coturn  # noqa: F401 - fixture

pytestmark = [pytest.mark.gui, pytest.mark.e2e]


def rows(tree) -> list[list[str]]:
    return [[tree.topLevelItem(i).text(c) for c in range(tree.columnCount())] for i in range(tree.topLevelItemCount())]


def test_probe_from_the_panel_then_call_through_the_relay(window, qtbot, coturn: Coturn, tmp_path):  # noqa: F811
    panel = window.panel("ice_lab")
    assert panel is not None
    names = [panel.config_pick.itemData(i) for i in range(panel.config_pick.count())]
    assert {"host-only", "public-stun", "turn-udp", "turn-tcp", "turn-tls"} <= set(names)

    # a probe with a wrong password says so, per server
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"iceServers": [coturn.ice_server("udp", credential="wrong")]}))
    panel.select(str(bad))
    qtbot.mouseClick(panel.probe_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.report is not None and panel.probe_button.isEnabled(), timeout=20_000)
    (verdict,) = rows(panel.verdicts)
    assert verdict[0] == coturn.url("udp") and verdict[2].startswith("TURN refused the credentials")
    assert "refused the credentials" in panel.diagnosis.toPlainText()

    # a good relay-only configuration: probe, use it for calls, call the echo agent
    good = tmp_path / "relay.json"
    good.write_text(json.dumps({"iceServers": [coturn.ice_server("tcp")], "iceTransportPolicy": "relay"}))
    panel.select(str(good))
    panel.report = None
    qtbot.mouseClick(panel.probe_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.report is not None and panel.probe_button.isEnabled(), timeout=20_000)
    assert rows(panel.verdicts)[0][2].startswith("TURN allocated a relay at 127.0.0.1:")
    assert [r[0] for r in rows(panel.candidates)] == ["relay"]

    qtbot.mouseClick(panel.use_button, Qt.MouseButton.LeftButton)
    assert window.dialer.ice_path.text() == str(good)
    window.dialer.set_target("embedded:echo")
    qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.state.state == "connected", timeout=30_000)
    qtbot.waitUntil(lambda: panel.snapshot is not None and panel.snapshot.selected is not None, timeout=10_000)
    assert panel.path_label.text().startswith("Path: relay — through our TURN relay")
    pairs = rows(panel.pairs)
    assert any(r[0].startswith("relay udp 127.0.0.1:") and r[2] == "succeeded" and r[4] == "selected" for r in pairs)
    assert "iceConnectionState completed" in panel.timeline.toPlainText()
    qtbot.mouseClick(window.dialer.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.state.state == "ended" and not window.bridge.active, timeout=20_000)
    # the pairs stay on screen after the call (aioice forgets them on close; the monitor does not)
    assert rows(panel.pairs) == pairs
