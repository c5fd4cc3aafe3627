"""The Audio tab: speaker on a real (null-sink) PulseAudio, playout figures, DTMF keypad, fallbacks."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.helpers.pulse import PulseServer, no_sound_server, pulse  # noqa: F401 - fixtures
from voicedesk.gui.widgets.audio_panel import microphone_spec
from voicedesk.media.dtmf import detect_dtmf
from voicedesk.media.pcm import dominant_frequency

pytestmark = [pytest.mark.gui, pytest.mark.own_engine]  # the engine plays and captures: it needs their sound server

CONNECT_MS = 30_000


def test_speaker_plays_the_call_and_the_figures_show_the_playout_buffer(pulse: PulseServer, window, qtbot) -> None:  # noqa: F811
    panel = window.panel("audio")
    panel.refresh_devices()
    assert panel.output_device.count() > 1  # "Default device" plus what PulseAudio offers
    panel.play_on_speaker.setChecked(True)
    monitor = pulse.record()
    try:
        window.dialer.set_target("embedded:tone")
        qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.dialer.state.state == "connected", timeout=CONNECT_MS)
        qtbot.waitUntil(lambda: "target 60 ms" in panel.labels["depth"].text(), timeout=10_000)
        qtbot.wait(2000)
        heard = monitor.samples()
    finally:
        monitor.stop()
    assert panel.labels["xruns"].text().count("/") == 1
    assert "Hz" in panel.labels["speaker"].text()
    assert dominant_frequency(heard[-48_000:]) == pytest.approx(440, abs=3)  # the tone agent, out of the speaker
    qtbot.mouseClick(window.dialer.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.call_button.isEnabled(), timeout=15_000)
    assert not panel.keypad["5"].isEnabled()


def test_a_clicked_word_plays_its_moment_of_the_received_audio(pulse: PulseServer, window, qtbot) -> None:  # noqa: F811
    panel, conversation = window.panel("audio"), window.panel("conversation")
    panel.refresh_devices()
    panel.play_on_speaker.setChecked(False)  # only the clicked word comes out of the speaker
    window.dialer.set_target("embedded:echo")
    window.dialer.source_kind.setCurrentIndex(window.dialer.source_kind.findText("Tone"))
    window.dialer.tone_hz.setValue(700)
    qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.state.state == "connected", timeout=CONNECT_MS)
    call = window.bridge.call
    qtbot.waitUntil(lambda: call.rx.ring.written >= 48_000, timeout=10_000)  # a second of the echo arrived
    moment = call.now_ms() - 700.0
    conversation._show_words((("seven", moment, moment + 400.0),))  # as the recognizer would list them
    monitor = pulse.record()
    try:
        conversation.words.linkActivated.emit("word:0")
        qtbot.waitUntil(
            lambda: conversation.words_played == 1 or window.banner.text().startswith("Could not"), timeout=15_000
        )
        assert conversation.words_played == 1, window.banner.text()
        # the monitor's reader may be a little behind the speaker on a loaded machine
        qtbot.waitUntil(lambda: (np.abs(monitor.samples()) > 0.05).sum() > 0.3 * 48_000, timeout=10_000)
        heard = monitor.samples()
    finally:
        monitor.stop()
    assert window.turn_markers.selected_s == pytest.approx((moment / 1000.0, (moment + 400.0) / 1000.0), abs=0.01)
    assert dominant_frequency(heard[np.flatnonzero(np.abs(heard) > 0.05)[0] :][:14_400]) == pytest.approx(700, abs=5)
    qtbot.mouseClick(window.dialer.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.call_button.isEnabled(), timeout=15_000)


def test_keypad_sends_dtmf_and_no_sound_server_is_a_message_not_a_failure(no_sound_server, window, qtbot) -> None:  # noqa: F811
    panel = window.panel("audio")
    panel.refresh_devices()
    assert "No audio devices" in panel.labels["devices"].text()
    assert microphone_spec() == "mic"
    panel.play_on_speaker.setChecked(True)
    window.dialer.set_target("embedded:echo")
    qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.state.state == "connected", timeout=CONNECT_MS)
    assert panel.notices == ["no audio output device: received audio is not played (null sink)"]
    for key in "5#":
        qtbot.mouseClick(panel.keypad[key], Qt.MouseButton.LeftButton)
    call = window.bridge.call
    assert call.dtmf_sent == "5#"
    assert panel.dtmf_sent.text() == "sent: 5#"
    # the tones went out and the echo brought them back (read where the waveform reads them)
    qtbot.waitUntil(lambda: detect_dtmf(call.rx.ring.latest(3 * 48_000)) == "5#", timeout=10_000)
    qtbot.waitUntil(lambda: "no usable device" in panel.labels["speaker"].text(), timeout=3_000)
    # a heard word clicked with nowhere to play it: one line that says why
    conversation = window.panel("conversation")
    moment = call.now_ms() - 600.0
    conversation._show_words((("five", moment, moment + 300.0),))  # as the recognizer would list them
    conversation.words.linkActivated.emit("word:0")
    qtbot.waitUntil(lambda: window.banner.text().startswith("Could not play “five”"), timeout=10_000)
    assert window.banner.text() == "Could not play “five”: cannot play it: no audio output device"
    qtbot.mouseClick(window.dialer.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.call_button.isEnabled(), timeout=15_000)


@pytest.mark.inprocess  # reads the core Call's keypad and the embedded server's session
def test_keypad_sends_rfc4733_events_the_agent_decodes(no_sound_server, window, qtbot) -> None:  # noqa: F811
    panel = window.panel("audio")
    panel.dtmf_mode.setCurrentIndex(panel.dtmf_mode.findData("rfc4733"))
    window.dialer.set_target("embedded:echo")
    qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.state.state == "connected", timeout=CONNECT_MS)
    for key in "7*":
        qtbot.mouseClick(panel.keypad[key], Qt.MouseButton.LeftButton)
    call = window.bridge.call
    assert [s.mode for s in call.keypad.sent] == ["rfc4733", "rfc4733"]
    assert panel.dtmf_sent.text() == "sent: 7*"
    session = next(iter(call.signaling.sessions.sessions.values()))
    qtbot.waitUntil(lambda: session.dtmf.tones == "7*", timeout=10_000)  # the echo agent's server decoded them
    assert not call.outbound.dtmf_pending  # nothing went in-band
    qtbot.mouseClick(window.dialer.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.call_button.isEnabled(), timeout=15_000)
