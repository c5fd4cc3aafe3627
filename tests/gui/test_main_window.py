"""The window as a user drives it: dial embedded echo, watch audio and stats, hang up; errors on screen."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import web
from PySide6.QtCore import Qt, QTimer

from tests.gui.conftest import close_window
from tests.helpers.net import free_port
from tests.helpers.stub_server import StubServer
from voicedesk.gui.main_window import MainWindow
from voicedesk.gui.widgets.dialer import DialRequest
from voicedesk.media.pcm import dominant_frequency

pytestmark = pytest.mark.gui

CONNECT_MS = 30_000


def pick_tone(window: MainWindow, hz: float) -> None:
    dialer = window.dialer
    dialer.source_kind.setCurrentIndex(dialer.source_kind.findText("Tone"))
    dialer.tone_hz.setValue(hz)


def near(value: float | None, expected: float, tolerance: float = 15.0) -> bool:
    return value is not None and abs(value - expected) < tolerance


def test_call_embedded_echo_shows_audio_and_stats_then_hangs_up(window, qtbot):
    window.dialer.set_target("embedded:echo")
    pick_tone(window, 1000)
    qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: window.dialer.state.state == "connected", timeout=CONNECT_MS)
    assert window.dialer.state.text() == "Connected"
    assert not window.dialer.call_button.isEnabled() and window.dialer.hangup_button.isEnabled()
    # the status bar says how long the set-up took and where it went
    status = window.statusBar().currentMessage()
    assert status.startswith("Connected to embedded echo agent (in-process) in ") and " ms (gathering " in status
    assert "ICE+DTLS" in status

    # the waveform views draw from buffers that hold the tone, both ways
    qtbot.waitUntil(lambda: near(dominant_frequency(window.waveforms.received.samples(1.0)), 1000), timeout=15_000)
    assert near(dominant_frequency(window.waveforms.sent.samples(1.0)), 1000)
    qtbot.waitUntil(lambda: window.waveforms.frames_drawn >= 10, timeout=10_000)
    xs, ys = window.waveforms.received.curve.getData()
    assert xs is not None and len(xs) > 100 and float(ys.max()) > 0.1  # a tone at half scale is on screen

    # the stats graphs gain points; fields aiortc reports get values, labels show units
    qtbot.waitUntil(lambda: window.stats.point_count >= 3, timeout=15_000)
    assert window.stats.finite_points("bitrate_out_kbps") >= 1
    x, y = window.stats.curves["bitrate_out_kbps"].getData()
    assert len(x) >= 3 and 5 < float(y[-1]) < 500  # Opus voice: tens of kbit/s
    assert "kbit/s" in window.stats.value_labels["bitrate_out_kbps"].text()
    assert "outbound-rtp" in window.stats.value_labels["bitrate_out_kbps"].toolTip()

    # the log panel got the call's progress through the logging handler
    assert "call connected" in window.panel("log").text.toPlainText()

    # SDP and candidates panels filled from the descriptions
    sdp = window.panel("sdp")
    assert sdp.local.text.toPlainText().startswith("v=0") and sdp.remote.text.toPlainText().startswith("v=0")
    candidates = window.panel("candidates")
    assert candidates.counts["local"] >= 1 and candidates.counts["remote"] >= 1

    # mute sends silence (the sent waveform shows what went to the encoder); the shortcut does the same
    window.mute_action.trigger()
    assert window.bridge.call.muted and window.dialer.mute_button.text() == "Unmute"
    window.mute_action.trigger()
    assert not window.bridge.call.muted
    qtbot.mouseClick(window.dialer.mute_button, Qt.MouseButton.LeftButton)
    assert window.bridge.call.muted
    qtbot.waitUntil(lambda: dominant_frequency(window.waveforms.sent.samples(0.3)) is None, timeout=5_000)
    qtbot.mouseClick(window.dialer.mute_button, Qt.MouseButton.LeftButton)
    assert not window.bridge.call.muted

    qtbot.mouseClick(window.dialer.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.state.state == "ended", timeout=15_000)
    qtbot.waitUntil(lambda: window.dialer.call_button.isEnabled(), timeout=15_000)
    assert window.dialer.target.currentText() == "embedded:echo"
    assert not window.bridge.active and window.bridge.call.pc.connectionState == "closed"
    assert window.stats.point_count >= 3  # the graphs stay after the call for reading


def test_refused_url_shows_the_message_and_the_window_stays_usable(window, qtbot):
    url = f"http://127.0.0.1:{free_port()}/api/voice/offer"
    window.dialer.set_target(url)
    qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.state.state == "failed", timeout=CONNECT_MS)
    assert "cannot connect to 127.0.0.1" in window.banner.text()
    assert window.banner.isVisible()
    assert "cannot connect" in window.statusBar().currentMessage()
    assert "cannot connect" in window.dialer.reason.text()
    # the dialer keeps what was typed and can dial again
    assert window.dialer.target.currentText() == url
    qtbot.waitUntil(lambda: window.dialer.call_button.isEnabled(), timeout=10_000)
    assert window.dialer.target.isEnabled()
    # ...and it does: the next call works
    window.dialer.set_target("embedded:echo")
    qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.state.state == "connected", timeout=CONNECT_MS)
    assert not window.banner.isVisible()


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("htp://example", "unknown target"),
        ("http://127.0.0.1:99999/x", "port"),
    ],
)
def test_bad_target_is_one_line_on_screen(window, qtbot, target, expected):
    window.dialer.set_target(target)
    qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=5_000)
    assert expected in window.banner.text() and "\n" not in window.banner.text()
    assert window.dialer.call_button.isEnabled() and window.dialer.target.currentText() == target


def test_http_error_and_slow_answer_never_freeze_the_window(window, qtbot):
    async def broken(request: web.Request) -> web.Response:
        return web.json_response({"error": "agent crashed"}, status=500)

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.json_response({})

    ticks = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start()
    with StubServer({("POST", "/broken"): broken, ("POST", "/slow"): slow}) as stub:
        window.dial(DialRequest(target=f"{stub.url}/broken", source="tone:440"))
        qtbot.waitUntil(lambda: window.dialer.state.state == "failed", timeout=CONNECT_MS)
        assert "HTTP 500" in window.banner.text() and "agent crashed" in window.banner.text()
        qtbot.waitUntil(lambda: window.dialer.call_button.isEnabled(), timeout=10_000)

        window.dial(DialRequest(target=f"{stub.url}/slow", source="tone:440", timeout_s=2.0))
        qtbot.waitUntil(lambda: window.dialer.state.state == "signaling", timeout=10_000)
        before = len(ticks)
        qtbot.waitUntil(lambda: window.dialer.state.state == "failed", timeout=CONNECT_MS)
        # Qt timers kept firing while signaling waited: the UI thread was never blocked
        assert len(ticks) - before >= 20
        text = window.banner.text()
        assert "2 s" in text and ("no answer" in text or "timed out" in text), text
    timer.stop()


def test_ice_failure_message(window, qtbot, tmp_path):
    ice = tmp_path / "relay.json"
    ice.write_text(json.dumps({"iceServers": [], "iceTransportPolicy": "relay"}))
    window.dialer.set_target("embedded:echo")
    window.dialer.ice_path.setText(str(ice))
    qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.state.state == "failed", timeout=CONNECT_MS)
    assert "relay" in window.banner.text()
    assert window.dialer.ice_path.text() == str(ice)


def test_closing_during_a_call_hangs_up_and_stops_the_embedded_server(window, qtbot):
    agent = window.panel("agent")
    agent.port.setValue(0)
    qtbot.mouseClick(agent.toggle, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: agent.running, timeout=10_000)
    server = agent.server
    assert agent.url.text().endswith("/api/voice/offer")
    window.dialer.set_target(agent.url.text())
    qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.state.state == "connected", timeout=CONNECT_MS)
    qtbot.waitUntil(lambda: len(server.sessions) == 1, timeout=10_000)
    agent.refresh_sessions()
    assert agent.sessions.topLevelItemCount() == 1
    call = window.bridge.call

    close_window(window, qtbot)
    assert call.state.value == "ended"
    assert not agent.running and server._runner is None and not server.sessions


def test_settings_persist_recent_targets_and_preferences(qtbot, aloop):
    first = MainWindow()
    first.show()
    first.dialer.set_target("http://127.0.0.1:1/api/voice/offer")
    pick_tone(first, 777)
    first.dial(DialRequest(target="http://127.0.0.1:1/api/voice/offer", source="tone:777"))
    qtbot.waitUntil(lambda: first.dialer.state.state == "failed", timeout=CONNECT_MS)
    prefs = first.preferences.__class__(theme="dark", waveform_seconds=3.0)
    first.apply_preferences(prefs)
    assert first.palette_.name == "dark"
    first.resize(780, 650)
    close_window(first, qtbot)

    second = MainWindow()
    try:
        recent = [second.dialer.target.itemText(i) for i in range(second.dialer.target.count())]
        assert recent[0] == "http://127.0.0.1:1/api/voice/offer"
        assert "embedded:echo" in recent
        assert second.dialer.tone_hz.value() == 777
        assert second.preferences.theme == "dark" and second.palette_.name == "dark"
        assert second.waveforms.sent.seconds == 3.0
        assert (second.size().width(), second.size().height()) == (780, 650)
    finally:
        second.show()
        close_window(second, qtbot)
        second.deleteLater()
        first.deleteLater()


def test_mute_shortcut_does_nothing_without_a_call(window):
    window.mute_action.trigger()
    assert not window.dialer.mute_button.isChecked() and window.dialer.mute_button.text() == "Mute"


def test_shortcuts_exist_with_fallbacks(window):
    for action in (
        window.dial_action,
        window.hangup_action,
        window.mute_action,
        window.quit_action,
        window.preferences_action,
    ):
        assert action.shortcuts(), action.text()
    assert window.preferences_action.shortcut().toString()  # Linux has no standard one: Ctrl+,


def test_a_broken_panel_shows_its_error_and_the_rest_works(qtbot, aloop, monkeypatch):
    from voicedesk.gui import main_window
    from voicedesk.gui.tabs import PANELS, PanelSpec

    monkeypatch.setattr(main_window, "PANELS", [*PANELS, PanelSpec("broken", "Broken", "voicedesk.gui.nope:Nope")])
    w = MainWindow()
    w.show()
    try:
        titles = [w.tabs.tabText(i) for i in range(w.tabs.count())]
        assert "Broken" in titles and w.panel("broken") is None and w.panel("sdp") is not None
        label = w.tabs.widget(titles.index("Broken"))
        assert "could not be loaded" in label.text()
    finally:
        close_window(w, qtbot)
        w.deleteLater()


def test_preferences_dialog_switches_the_theme_and_is_remembered(window, qtbot):
    from voicedesk.gui.widgets.preferences import PreferencesDialog

    window.preferences_action.trigger()
    dialog = window.findChild(PreferencesDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    dialog.fps.setValue(20)
    dialog._accept()
    assert window.palette_.name == "dark"
    assert window.waveforms._timer.interval() == 50
    assert window.settings.load().preferences.theme == "dark"
    window.apply_preferences(window.preferences.__class__(theme="light"))
    assert window.palette_.name == "light"


def test_signaling_pick_adds_the_prefix_and_a_mismatch_is_one_line(window, qtbot):
    dialer = window.dialer
    dialer.set_target("embedded:echo")
    assert "in-process" in dialer.signaling.text()
    dialer.set_target("http://127.0.0.1:1/whip")
    dialer.signaling_kind.setCurrentIndex(dialer.signaling_kind.findData("whip"))
    assert "WHIP" in dialer.signaling.text()
    dialer.set_target("embedded:echo")  # WHIP needs an http(s) URL
    qtbot.mouseClick(dialer.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=5_000)
    assert "needs an http(s):// URL" in window.banner.text()
    assert dialer.call_button.isEnabled() and dialer.signaling_kind.currentData() == "whip"


def test_the_window_fits_a_small_screen_whatever_the_panels(window):
    hint = window.minimumSizeHint()
    assert hint.width() <= 800 and hint.height() <= 600, hint


def test_closing_while_signaling_waits_cancels_the_call_and_closes(window, qtbot):
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.json_response({})

    with StubServer({("POST", "/slow"): slow}) as stub:
        window.dial(DialRequest(target=f"{stub.url}/slow", source="tone:440", timeout_s=25.0))
        qtbot.waitUntil(lambda: window.dialer.state.state == "signaling", timeout=10_000)
        call = window.bridge.call
        close_window(window, qtbot)  # well before the 25 s set-up timeout
        assert call.state.value == "failed" and call.reason == "cancelled"


def test_panels_paint_through_the_gate_and_run_at_once_without_a_call(window):
    ran = []
    window.panel("sdp").context.paint(lambda: ran.append(1))
    assert ran == [1]
