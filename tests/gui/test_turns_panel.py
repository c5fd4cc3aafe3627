"""The agent turns panel fills live from a call to the embedded voice agent."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.helpers.speech import spoken_wav
from voicedesk.gui.widgets.turns_panel import live_text, turn_row

pytestmark = [pytest.mark.gui, pytest.mark.timeout(180)]


def test_turn_row_and_live_text() -> None:
    turn = {
        "turn": 2,
        "transcript": "what can you do",
        "response": "I can tell you my name.",
        "interrupted": True,
        "errors": [],
        "latency_ms": {"voice_to_voice": 612.4, "end_detection": 500.0, "barge_in": 3.2},
    }
    row = turn_row(turn)
    assert row[:4] == ["2", "what can you do", "I can tell you my name. [interrupted]", "612"]
    assert row[-1] == "3"
    partial = {"type": "transcript", "turn": 1, "final": False, "text": "what is"}
    assert live_text(partial) == "Turn 1: hearing “what is”"
    assert live_text({"type": "session_started"}) is None


def test_call_to_the_voice_agent_shows_its_turns(window, qtbot, tmp_path) -> None:
    # The file plays again when it ends: its silence must outlast a slow reply (recognition
    # under load took 2.5 s here), or the question's second playing interrupts the answer.
    wav = spoken_wav(tmp_path / "ask.wav", 0.5, "what is the weather today", 10.0)
    panel = window.panel("turns")
    dialer = window.dialer
    dialer.set_target("embedded:voice")
    dialer.source_kind.setCurrentIndex(dialer.source_kind.findText("Audio file"))
    dialer.wav_path.setText(str(wav))
    qtbot.mouseClick(dialer.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialer.state.state == "connected", timeout=30_000)
    qtbot.waitUntil(lambda: panel.table.topLevelItemCount() >= 1, timeout=60_000)
    row = panel.table.topLevelItem(0)
    assert "weather" in row.text(1)
    assert row.text(2) == "The weather is sunny and warm today."
    assert row.text(3) != "–"  # voice-to-voice was measured
    qtbot.mouseClick(dialer.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialer.call_button.isEnabled(), timeout=15_000)


def test_turn_events_are_marked_on_the_stats_timeline(window, qtbot, tmp_path) -> None:
    # a long silence: the question playing again must not add a second set of marks
    wav = spoken_wav(tmp_path / "ask.wav", 0.5, "what is the weather today", 10.0)
    dialer = window.dialer
    dialer.set_target("embedded:voice")
    dialer.source_kind.setCurrentIndex(dialer.source_kind.findText("Audio file"))
    dialer.wav_path.setText(str(wav))
    qtbot.mouseClick(dialer.call_button, Qt.MouseButton.LeftButton)
    kinds = lambda: [k for k, _ in window.turn_markers.positions_s]  # noqa: E731
    qtbot.waitUntil(lambda: "audio_out_started" in kinds(), timeout=60_000)
    marks = dict(window.turn_markers.positions_s)
    # in call time, in the order they happened, within the call so far
    assert 0 < marks["speech_started"] < marks["speech_stopped"] < marks["transcript_final"]
    assert marks["transcript_final"] <= marks["audio_out_started"] < window.bridge.call.now_ms() / 1000.0
    qtbot.mouseClick(dialer.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialer.call_button.isEnabled(), timeout=15_000)
