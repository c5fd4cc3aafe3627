"""The Conversation tab: real calls from the window to an embedded voice agent (voicedesk
events) and to a chatty RTVI peer (an aiortc answerer sending RTVI messages on the ``chat``
channel); type to speak, send as text, the event log's filter, clicking a turn."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.helpers.rtvi_peer import AGENT_ERROR, REPLY, SAID, TOOL, UNKNOWN_TYPE, ChattyRtviPeer
from voicedesk.gui.widgets import conversation_view
from voicedesk.gui.widgets.conversation_view import ALL_TYPES, INTERRUPTED, latency_chip, utterance_cells
from voicedesk.rtc.events import AgentMetric, Speaker, TextSource, Transcript, Turn, Utterance
from voicedesk.rtc.speech_edges import SpeechEdges, reply_latency_ms

pytestmark = [pytest.mark.gui, pytest.mark.timeout(240)]

WAIT_MS = 90_000  # a loaded machine: whisper, espeak and two peers share two cores


def test_cells_say_where_words_and_figures_come_from() -> None:
    heard = Utterance(
        Speaker.CALLER,
        1000.0,
        2000.0,
        transcripts=(
            Transcript("what is the weather", TextSource.SENT, True, 1000.0, "say"),
            Transcript("what is the whether", TextSource.AGENT, True, 1900.0, "transcript"),
        ),
    )
    words, source, tip = utterance_cells(heard)
    assert (words, source) == ("what is the whether", "agent (transcript)")  # the agent's own report first
    assert "spoken by VoiceDesk: what is the weather" in tip
    cut = Utterance(Speaker.AGENT, 2500.0, None, transcripts=(), interrupted=True)
    assert utterance_cells(cut)[0] == f"(speaking)  {INTERRUPTED}"
    turn = Turn(1, "rtvi", heard, cut, metrics=(AgentMetric("ttfb", 320.0, "ms", "LLM#0"),))
    assert latency_chip(812.4, turn)[0] == "ours 812 ms · agent TTFB 320 ms"
    reported = Turn(2, "voicedesk", report={"latency_ms": {"voice_to_voice": 640.0}})
    assert latency_chip(None, reported)[0] == "agent voice-to-voice 640 ms"


def test_our_latency_runs_from_the_end_of_the_sent_audio_to_the_start_of_the_reply() -> None:
    now = [0.0]
    sent, received = SpeechEdges(lambda: now[0]), SpeechEdges(lambda: now[0])
    loud, quiet = np.full(960, 0.3, dtype=np.float32), np.zeros(960, dtype=np.float32)
    # the caller speaks 0–1 s, the reply starts at 1.7 s: 20 ms blocks on both sides
    for i in range(150):
        now[0] = (i + 1) * 20.0
        sent.write(loud if i < 50 else quiet)
        received.write(loud if 85 <= i < 130 else quiet)
    caller = Utterance(Speaker.CALLER, 100.0, 1300.0, transcripts=(Transcript("hi", TextSource.AGENT, True, 1300.0),))
    agent = Utterance(Speaker.AGENT, 1750.0, 2700.0)
    assert reply_latency_ms(sent, received, Turn(1, "rtvi", caller, agent)) == pytest.approx(700.0, abs=25.0)
    typed = Utterance(
        Speaker.CALLER, 100.0, 100.0, transcripts=(Transcript("hi", TextSource.SENT, True, 0, "send-text"),)
    )
    assert reply_latency_ms(sent, received, Turn(2, "rtvi", typed, agent)) is None  # nothing was said aloud


def _dial(window, qtbot, target: str) -> None:
    dialer = window.dialer
    dialer.set_target(target)
    dialer.source_kind.setCurrentIndex(dialer.source_kind.findText("Silence"))
    qtbot.mouseClick(dialer.call_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialer.state.state == "connected", timeout=30_000)


def _hang_up(window, qtbot) -> None:
    qtbot.mouseClick(window.dialer.hangup_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.dialer.call_button.isEnabled(), timeout=20_000)


def _show_tab(window, key: str):
    panel = window.panel(key)
    index = next(i for i in range(window.tabs.count()) if window.tabs.widget(i).isAncestorOf(panel))
    window.tabs.setCurrentIndex(index)
    return panel


def _rows(panel) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """(turn title, [(who, words, source)]) of every row of the conversation."""
    out = []
    for i in range(panel.view.topLevelItemCount()):
        item = panel.view.topLevelItem(i)
        children = [item.child(j) for j in range(item.childCount())]
        out.append((item.text(0), [(c.text(2), c.text(3), c.text(4)) for c in children]))
    return out


def _click(qtbot, tree, item) -> None:
    tree.scrollToItem(item)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=tree.visualItemRect(item).center())


def test_typed_words_are_spoken_to_the_voice_agent_and_the_turn_shows_both_sides(window, qtbot) -> None:
    panel = _show_tab(window, "conversation")
    assert not panel.say_edit.isEnabled()  # no call yet
    _dial(window, qtbot, "embedded:voice")
    assert not panel.send_text_button.isEnabled()  # voicedesk events take no text: it says so
    assert "takes no text" in panel.send_text_button.toolTip()
    qtbot.keyClicks(panel.say_edit, "what is the weather today")
    qtbot.keyClick(panel.say_edit, Qt.Key.Key_Return)

    def answered() -> bool:
        return any(
            any(who == "Agent" and "sunny" in words for who, words, _ in children) for _, children in _rows(panel)
        )

    qtbot.waitUntil(answered, timeout=WAIT_MS)
    children = next(c for _, c in _rows(panel) if any("sunny" in w for _, w, _ in c))
    (caller_who, heard, heard_source), (agent_who, said, _) = children[:2]
    assert (caller_who, agent_who) == ("Caller", "Agent")  # in the order they spoke
    assert "weather" in heard.lower()  # the agent's recognizer heard the spoken words
    assert heard_source == "agent (transcript)"
    assert said == "The weather is sunny and warm today."
    items = [panel.view.topLevelItem(i) for i in range(panel.view.topLevelItemCount())]

    def measured() -> bool:  # our figure needs the reply's first audio, found in what came back
        return any("ours" in item.text(5) for item in items)

    try:
        qtbot.waitUntil(measured, timeout=WAIT_MS)
    except Exception:
        pytest.fail(
            f"no latency of ours: sent {list(panel.edges.sent.runs)} received {list(panel.edges.received.runs)} "
            f"turns {[(t.caller, t.agent) for t in window.bridge.call.conversation.turns]}"
        )
    turn_item = next(item for item in items if "ours" in item.text(5))
    ours_ms = float(turn_item.text(5).split("ours ")[1].split(" ms")[0])
    assert 0 < ours_ms < WAIT_MS  # from the end of the spoken words to the reply: recognition takes time

    # the raw log: every message, and the filter narrows it
    assert panel.log.topLevelItemCount() >= 5
    panel.filter_edit.setText("transcript")
    shown = [panel.log.topLevelItem(i) for i in range(panel.log.topLevelItemCount())]
    visible = [row for row in shown if not row.isHidden()]
    assert visible and all("transcript" in (row.text(2) + row.text(3)).lower() for row in visible)
    assert len(visible) < len(shown)
    assert f"{len(visible)} of {len(shown)} messages shown" in panel.log_count.text()
    panel.filter_edit.clear()
    assert panel.visible_log_rows() == panel.log.topLevelItemCount()

    # click the turn: its moment is marked on the graphs' timeline
    _click(qtbot, panel.view, turn_item)
    start_s, _ = turn_item.data(0, conversation_view.TIME_ROLE)
    qtbot.waitUntil(lambda: window.turn_markers.selected_s is not None, timeout=5_000)
    assert window.turn_markers.selected_s[0] == pytest.approx(start_s)
    assert 0 < start_s < window.bridge.call.now_ms() / 1000.0
    _hang_up(window, qtbot)
    assert not panel.say_edit.isEnabled()


@pytest.fixture
def chatty_peer(aloop, qtbot):
    peer = ChattyRtviPeer(interval=0.02)
    started = asyncio.ensure_future(peer.__aenter__())
    qtbot.waitUntil(started.done, timeout=10_000)
    started.result()
    yield peer
    stopped = asyncio.ensure_future(peer.__aexit__(None, None, None))
    qtbot.waitUntil(stopped.done, timeout=15_000)


def test_a_chatty_rtvi_peer_fills_the_view_with_rows_capped(window, qtbot, chatty_peer, monkeypatch) -> None:
    monkeypatch.setattr(conversation_view, "MAX_LOG_ROWS", 60)
    monkeypatch.setattr(conversation_view, "MAX_TURN_ROWS", 6)
    panel = _show_tab(window, "conversation")
    _dial(window, qtbot, f"pipecat+{chatty_peer.url}")
    assert "Conversation tab" in window.panel("turns").live.text()  # the voicedesk-only tab points here
    qtbot.waitUntil(lambda: panel.messages_seen >= 110, timeout=WAIT_MS)  # 7 turns and more

    assert panel.log.topLevelItemCount() <= 60 and panel.log_rows_dropped > 0
    assert panel.view.topLevelItemCount() <= 6 and panel.turn_rows_dropped > 0
    rows = _rows(panel)
    complete = [children for _, children in rows if any(who == "Agent" and REPLY in w for who, w, _ in children)]
    assert complete, rows
    children = complete[0]
    assert children[0] == ("Caller", SAID, "agent (user-transcription)")
    assert ("Tool", f'{TOOL}({{"city": "Paris"}}) → {{"sky": "sunny"}}', "agent") in children
    assert any(who == "Agent" and INTERRUPTED in w for _, c in rows for who, w, _ in c)  # every fifth turn
    assert any(who == "Error" and w == AGENT_ERROR for _, c in rows for who, w, _ in c)  # every third turn
    chips = [panel.view.topLevelItem(i).text(5) for i in range(panel.view.topLevelItemCount())]
    assert any("agent TTFB 320 ms" in chip for chip in chips)

    # unknown types are logged too, and the type filter shows only them
    types = [panel.type_filter.itemText(i) for i in range(panel.type_filter.count())]
    assert types[0] == ALL_TYPES and UNKNOWN_TYPE in types and "bot-tts-text" in types
    panel.type_filter.setCurrentText(UNKNOWN_TYPE)
    visible = [panel.log.topLevelItem(i) for i in range(panel.log.topLevelItemCount())]
    visible = [row for row in visible if not row.isHidden()]
    assert visible and all(row.text(2) == UNKNOWN_TYPE for row in visible)
    panel.type_filter.setCurrentText(ALL_TYPES)
    qtbot.waitUntil(lambda: panel.log.topLevelItemCount() == 60, timeout=WAIT_MS)  # the cap, still filling
    shown_rows = panel.visible_log_rows()
    assert shown_rows == 60 and panel.log_count.text().startswith("60 of 60 messages shown")

    # send as text: RTVI send-text reaches the peer, and the words join the conversation
    assert panel.send_text_button.isEnabled()
    panel.say_edit.setText("book a table for two")
    qtbot.mouseClick(panel.send_text_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(m.get("type") == "send-text" for m in chatty_peer.received), timeout=WAIT_MS)
    sent = next(m for m in chatty_peer.received if m.get("type") == "send-text")
    assert sent["data"]["content"] == "book a table for two"
    qtbot.waitUntil(lambda: any("book a table for two" in w for _, c in _rows(panel) for _, w, _ in c), timeout=WAIT_MS)
    assert panel.shown_delays_ms  # measured for the bench; no figure asserted under load
    _hang_up(window, qtbot)
