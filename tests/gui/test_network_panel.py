"""The Network tab: a call placed through the impairment relay, the impairment
changed mid-call, the change marked on the graphs, the figures shown."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

pytestmark = pytest.mark.gui

CONNECT_MS = 30_000


def test_impaired_call_changed_mid_call_is_marked_and_measured(window, qtbot):
    panel = window.panel("network")
    panel.enabled.setChecked(True)
    panel.spec.setText("delay=40ms")
    window.dialer.set_target("embedded:tone")
    qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.state.state == "connected", timeout=CONNECT_MS)
    call = window.bridge.call
    assert call.impairment_now() is not None and call.impairment_now().down.delay_ms == 40
    qtbot.waitUntil(lambda: window.stats.point_count >= 2, timeout=15_000)

    panel.spec.setText("down.loss=20%")
    qtbot.mouseClick(panel.apply, Qt.MouseButton.LeftButton)
    # the relay runs where the call runs (the engine process): its figures come back within a second
    qtbot.waitUntil(lambda: call.impairment_now().down.loss_pct == 20, timeout=5_000)
    assert call.impairment_now().down.delay_ms == 40
    qtbot.waitUntil(lambda: len(window.impairment_markers.markers) == 1, timeout=5_000)
    marked_at = window.impairment_markers.positions_s[0]
    assert 0 < marked_at < 60

    # the effect shows: loss on the graph's data and the relay's ground truth on the tab
    qtbot.waitUntil(lambda: (window.stats.samples[-1].loss_pct or 0) > 3, timeout=20_000)
    qtbot.waitUntil(lambda: "dropped" in panel.labels["down"].text(), timeout=5_000)
    assert "ms in" in panel.labels["gaps"].text()
    assert panel.labels["mos"].text().split()[0].replace(".", "").isdigit()

    qtbot.mouseClick(window.dialer.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.call_button.isEnabled(), timeout=15_000)


def test_bad_impairment_is_one_message_and_no_call(window, qtbot):
    panel = window.panel("network")
    panel.enabled.setChecked(True)
    panel.spec.setText("loss=lots")
    window.dialer.set_target("embedded:echo")
    qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.state.state == "failed", timeout=5_000)
    assert "bad impairment 'loss=lots'" in window.dialer.reason.text()
    assert window.dialer.call_button.isEnabled()


def test_a_scheduled_change_applies_after_connecting_and_is_marked(window, qtbot):
    panel = window.panel("network")
    panel.enabled.setChecked(True)
    panel.spec.setText("delay=20ms")
    panel.schedule.setText("1:down.loss=30%")
    window.dialer.set_target("embedded:tone")
    qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.state.state == "connected", timeout=CONNECT_MS)
    call = window.bridge.call
    assert call.impairment_now().down.loss_pct == 0  # not yet: a second after connecting
    qtbot.waitUntil(lambda: call.impairment_now().down.loss_pct == 30, timeout=10_000)
    assert call.impairment_now().down.delay_ms == 20  # on top of the figures in force
    qtbot.waitUntil(lambda: len(window.impairment_markers.markers) == 1, timeout=5_000)
    qtbot.mouseClick(window.dialer.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.call_button.isEnabled(), timeout=15_000)


def test_a_bad_schedule_is_one_message_and_no_call(window, qtbot):
    panel = window.panel("network")
    panel.enabled.setChecked(True)
    panel.spec.setText("loss=1%")
    panel.schedule.setText("soon:loss=5%")
    window.dialer.set_target("embedded:echo")
    qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.state.state == "failed", timeout=5_000)
    assert "use SECONDS:SPEC" in window.dialer.reason.text()
    assert window.dialer.call_button.isEnabled()


def test_the_media_watchdog_settings_go_into_the_next_call(window, qtbot):
    from voicedesk.rtc.spec import CallSpec

    panel = window.panel("network")
    spec = panel.prepare_call(CallSpec("embedded:echo"))
    assert spec.media_timeout == 5.0 and spec.ride_out is False  # as the command line's defaults
    panel.media_timeout.setValue(0)
    panel.ride_out.setChecked(True)
    spec = panel.prepare_call(CallSpec("embedded:echo"))
    assert spec.media_timeout is None and spec.ride_out is True  # 0: not watched
    assert window.settings.value("panels/network/ride_out") is True
