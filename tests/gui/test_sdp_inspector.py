"""The SDP inspector tab: live lint on pasted text, and a call paused after its offer,
edited to keep only PCMU, applied, and shown as PCMU negotiated with the tone arriving."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.gui.conftest import close_window
from tests.helpers.sdp import ANSWER, OFFER, mutate
from voicedesk.gui.main_window import MainWindow
from voicedesk.gui.widgets.sdp_inspector import SdpInspectorPanel
from voicedesk.media.pcm import dominant_frequency
from voicedesk.rtc.sdp import parse
from voicedesk.rtc.sdp.edit import keep_codecs
from voicedesk.rtc.sdp.summary import summarize

pytestmark = pytest.mark.gui

CONNECT_MS = 30_000


def inspector(window: MainWindow) -> SdpInspectorPanel:
    panel = window.panel("sdp_inspector")
    assert isinstance(panel, SdpInspectorPanel)
    return panel


def findings(panel: SdpInspectorPanel) -> list[tuple[str, str, str]]:
    items = [panel.findings.topLevelItem(i) for i in range(panel.findings.topLevelItemCount())]
    return [(item.text(0), item.text(1), item.text(2)) for item in items]


def test_pasted_sdp_is_linted_live_and_highlighted(window, qtbot):
    panel = inspector(window)
    panel.editor.setPlainText(mutate(OFFER, "a=rtcp-mux\r\n", "").replace("\r\n", "\n"))
    qtbot.waitUntil(lambda: ("7", "error", "missing-rtcp-mux") in findings(panel), timeout=5_000)
    assert panel.highlighter.findings[7].value == "error"
    assert panel.structure.topLevelItemCount() == 2  # session + the audio section
    # not SDP at all: one finding on its line, nothing raised, the editor stays usable
    panel.editor.setPlainText("v=0\nhello\n")
    qtbot.waitUntil(lambda: findings(panel) and findings(panel)[0][2] == "unparseable", timeout=5_000)
    assert findings(panel)[0][0] == "2"
    # clicking a finding selects its line
    panel.editor.setPlainText(mutate(OFFER, "a=rtcp-mux\r\n", "").replace("\r\n", "\n"))
    qtbot.waitUntil(lambda: ("7", "error", "missing-rtcp-mux") in findings(panel), timeout=5_000)
    assert [rule for _, _, rule in findings(panel)] == ["missing-rtcp-mux"]  # CRLF assumed for a paste
    panel._jump(panel.findings.topLevelItem(0))
    assert panel.editor.textCursor().selectedText().startswith("m=audio")


def test_pasted_offer_and_answer_give_a_summary(window, qtbot):
    panel = inspector(window)
    panel.editor.setPlainText(OFFER.replace("\r\n", "\n"))
    qtbot.waitUntil(lambda: panel.texts.get("offer") == OFFER, timeout=5_000)  # CRLF, as SDP says
    panel.which.setCurrentIndex(1)
    assert panel.editor.toPlainText() == ""
    panel.editor.setPlainText(keep_codecs(ANSWER, ["PCMU"]))
    qtbot.waitUntil(lambda: "codec          PCMU/8000 (PT 0)" in panel.summary.toPlainText(), timeout=5_000)
    panel.which.setCurrentIndex(0)  # the pasted offer is still there
    assert panel.editor.toPlainText() == OFFER.replace("\r\n", "\n")


def test_paused_offer_edited_to_pcmu_is_applied_and_negotiated(window, qtbot):
    panel = inspector(window)
    panel.pause_offer.setChecked(True)
    window.dialer.source_kind.setCurrentIndex(window.dialer.source_kind.findText("Tone"))
    window.dialer.tone_hz.setValue(1000)
    window.dialer.set_target("embedded:echo")
    qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: panel.is_paused, timeout=CONNECT_MS)
    assert window.tabs.currentWidget().isAncestorOf(panel)
    assert panel.apply_button.isEnabled() and "opus" in panel.editor.toPlainText()
    # the user keeps only PCMU (the editor shows LF; Apply restores the offer's CRLF)
    panel.editor.setPlainText(keep_codecs(panel.editor.toPlainText(), ["PCMU"]))
    qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: window.dialer.state.state == "connected", timeout=CONNECT_MS)
    call = window.bridge.call
    assert "\r\n" in (call.local_sdp or "") and "opus" not in (call.local_sdp or "")
    audio = summarize(parse(call.local_sdp or ""), parse(call.remote_sdp or "")).sections[0]
    assert audio.codec is not None and audio.codec.name == "PCMU"
    qtbot.waitUntil(lambda: "codec          PCMU/8000 (PT 0)" in panel.summary.toPlainText(), timeout=5_000)
    assert "m formats" in panel.changes.toPlainText()
    qtbot.waitUntil(
        lambda: (hz := dominant_frequency(window.waveforms.received.samples(1.0))) is not None and abs(hz - 1000) < 15,
        timeout=15_000,
    )
    qtbot.mouseClick(window.dialer.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.call_button.isEnabled(), timeout=15_000)


def test_cancel_while_paused_fails_the_call_and_the_window_stays_usable(window, qtbot):
    panel = inspector(window)
    panel.pause_answer.setChecked(True)
    window.dialer.set_target("embedded:echo")
    qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.is_paused, timeout=CONNECT_MS)
    assert "a=setup:active" in panel.editor.toPlainText()  # the remote answer
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.state.state == "failed", timeout=CONNECT_MS)
    assert "cancelled while the answer was being edited" in window.dialer.reason.text()
    qtbot.waitUntil(lambda: window.dialer.call_button.isEnabled(), timeout=15_000)
    assert window.bridge.call.pc.connectionState == "closed"


def test_closing_the_window_while_paused_ends_the_call(window, qtbot):
    panel = inspector(window)
    panel.pause_offer.setChecked(True)
    window.dialer.set_target("embedded:echo")
    qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.is_paused, timeout=CONNECT_MS)
    call = window.bridge.call
    close_window(window, qtbot)
    assert call.state.value == "failed" and not panel.is_paused


def test_a_call_fills_the_inspector_when_its_tab_is_opened(window, qtbot):
    """Lint, structure and summary are not drawn while the call connects on a tab nobody
    has open (they took ~10 ms of the set-up's loop); opening the tab shows them all."""
    panel = inspector(window)
    index = next(i for i in range(window.tabs.count()) if window.tabs.widget(i).isAncestorOf(panel))
    assert window.tabs.currentIndex() != index
    window.dialer.set_target("embedded:echo")
    qtbot.mouseClick(window.dialer.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.state.state == "connected", timeout=CONNECT_MS)
    assert set(panel.texts) == {"offer", "answer"}  # kept at once: the data is not deferred
    assert panel.summary.toPlainText() == ""  # not drawn for nobody

    window.tabs.setCurrentIndex(index)
    assert "codec          opus/48000/2" in panel.summary.toPlainText()
    assert panel.which.currentText() == "Answer" and "a=setup:active" in panel.editor.toPlainText()
    assert panel.structure.topLevelItemCount() >= 2
    # on screen, the next description is drawn as it arrives
    panel.editor.setPlainText("")
    panel._description_set("remote", "answer", window.bridge.call.remote_sdp or "")
    assert "a=setup:active" in panel.editor.toPlainText()
    qtbot.mouseClick(window.dialer.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.call_button.isEnabled(), timeout=15_000)
