"""The Network tab's caller conditions: into the next call's spec, refused in the CLI's words,
and the finished call's robustness line."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from voicedesk.media.conditions import EchoSpec, InsertSpec, NoiseSpec

pytestmark = pytest.mark.gui


def test_the_fields_go_into_the_next_call(window):
    from voicedesk.rtc.spec import CallSpec

    group = window.panel("network").conditions
    assert group.conditions() is None  # off by default
    group.enabled.setChecked(True)
    group.noise.setText("pink:15")
    group.echo.setText("delay_ms=150,erl_db=20")
    group.backchannels.setText("mm-hmm@800; cough@1500,turn=2")
    group.seed.setValue(7)
    spec = window.panel("network").prepare_call(CallSpec("embedded:echo"))
    assert spec.conditions is not None
    assert spec.conditions.noise == NoiseSpec("pink", 15.0)
    assert spec.conditions.echo == EchoSpec(150.0, 20.0)
    assert spec.conditions.inserts == (InsertSpec("mm-hmm", 800.0), InsertSpec("cough", 1500.0, 2))
    assert spec.conditions.seed == 7
    assert window.settings.value("panels/network/conditions/enabled") is True


def test_a_bad_snr_is_one_message_and_no_call(window, qtbot):
    group = window.panel("network").conditions
    group.enabled.setChecked(True)
    group.noise.setText("white:90")
    window.dialer.set_target("embedded:echo")
    qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.state.state == "failed", timeout=5_000)
    assert "noise SNR: expected an SNR in dB ≥ -10 and ≤ 60, got 90" in window.dialer.reason.text()
    assert window.dialer.call_button.isEnabled()


def test_a_call_with_noise_shows_the_snr_it_sent(window, qtbot):
    group = window.panel("network").conditions
    group.enabled.setChecked(True)
    group.noise.setText("white:12")
    window.dialer.set_target("embedded:echo")
    qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.state.state == "connected", timeout=30_000)
    qtbot.wait(1500)
    qtbot.mouseClick(window.dialer.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.call_button.isEnabled(), timeout=15_000)
    qtbot.waitUntil(lambda: "SNR sent" in group.result.text(), timeout=5_000)
    snr = float(group.result.text().split("SNR sent ")[1].split()[0])
    assert abs(snr - 12.0) < 1.0, group.result.text()
