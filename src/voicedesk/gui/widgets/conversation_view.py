"""The conversation, live: both sides' words, tools, latencies; the agent's raw events beside it.

Left, one row per turn (``call.conversation``, rtc/events/): the caller's words (the agent's
transcript of them, VoiceDesk's recognizer, or what VoiceDesk spoke or typed, each
labelled), the agent's words, its tool calls with arguments and result, errors,
interruptions, and a latency chip: ours, measured from the call's audio
(rtc/speech_edges.py, an extension recipe built where the call runs), beside the figure the
agent reported. Clicking a row marks its moment on the graphs' timeline; a reply VoiceDesk's
recognizer heard shows its words under the view, each a link: click one to hear that moment of
the received audio (the call's QA recording, played where the call runs, on the Audio tab's
speaker) and see it marked on the timeline. Above it, the
recognizer choice (off, constrained, open, whisper and a model; remembered): the next call runs it in the core
(``CallSpec.transcribe``, rtc/transcription.py, its engine in a worker process), checked
before dialling with the CLI's one-line errors; its words join the conversation, labelled
"heard · whisper tiny.en", in the turn whose reply they were heard in. Under it, "type to
speak" (Enter: the words are spoken into the call by the ``say:`` engine, ``Call.say_text``)
and "Send as text" for agents that take text (RTVI ``send-text``, OpenAI
``conversation.item.create``). Right, every message the agent sent as it came (unknown types
too), with a type and a text filter.

Painting stays cheap: the bridge's signals only queue (a deque, a flag); a display
timer pulls what is queued through the paint gate (rule 10, gui/paint_gate.py): every
16 ms it refreshes only the turns events can still change (``Conversation.recent_turns``),
every 200 ms it appends log rows (a separate kind of work, so the conversation's repaint
stays small enough to fit between packets); both views keep a capped number of rows.
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import json
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from voicedesk.errors import VoiceDeskError
from voicedesk.gui.bridge import CallBridge
from voicedesk.gui.widgets.audio_panel import OUTPUT_KEY
from voicedesk.gui.widgets.panel import Panel, PanelContext, heading
from voicedesk.rtc.events import (
    AgentErrorReported,
    AgentEventReceived,
    AgentReady,
    ConversationEvent,
    EventProtocol,
    EventsNotice,
    TextSource,
    ToolCall,
    Turn,
    Utterance,
)
from voicedesk.rtc.extension import ExtensionRecipe
from voicedesk.rtc.speech_edges import KEY as EDGES
from voicedesk.rtc.speech_edges import CallSpeechEdges, SpeechEdgesView, first_word_latency_ms, reply_latency_ms
from voicedesk.speech.recognizers import SttChoice
from voicedesk.speech.whisper import MODEL_ENV
from voicedesk.tasks import TaskOwner

if TYPE_CHECKING:
    from voicedesk.rtc.spec import CallSpec  # the first call imports it, not the first screen

logger = logging.getLogger(__name__)

REFRESH_MS = 16  # the display timer (rule 10's fastest): an event is on screen within a tick and a gate wait
LIVE_TURNS = 4  # the turns an event can still change (late words, a stop after the next turn began)
LOG_EVERY_TICKS = 12  # the raw log about every 200 ms: a log is read, not watched frame by frame,
# and its repaint (a full viewport as it scrolls) kept out of the conversation's keeps that cheap
AUDIO_REFRESH_TICKS = 30  # every ~0.5 s the latest turns again: our latency needs the reply's audio
MAX_TURN_ROWS = 500  # rows of the conversation (turns and notes); the oldest go first
MAX_LOG_ROWS = 2000  # rows of the raw event log
MAX_TYPES = 200  # entries of the type filter
MESSAGE_CHARS = 400  # of a raw message in its log row (the tooltip has more)
TEXT_CHARS = 300  # of a tool's arguments or result in its row
DELAYS_KEPT = 5000

TURN_COLUMNS = ("Turn", "At (s)", "Who", "Words", "Source", "Latency")
LOG_COLUMNS = ("At (s)", "Protocol", "Type", "Message")
ALL_TYPES = "All types"
INTERRUPTED = "⚡ interrupted"
TIME_ROLE = Qt.ItemDataRole.UserRole  # (start_s, end_s | None) of a row's moment
WORD_MARGIN_MS = 120.0  # played either side of a clicked word
WORDS_ROLE = Qt.ItemDataRole.UserRole + 1  # the recognizer's (word, start_ms, end_ms) of an agent row
STT_KEY = "panels/conversation/stt"  # the recognizer choice, remembered: {"stt": …, "model": …}
STT_ITEMS = (
    ("Off", ""),
    ("Constrained (pocketsphinx, phrases the embedded agents say)", "constrained"),
    ("Open (pocketsphinx)", "open"),
    ("Whisper (open vocabulary, word times)", "whisper"),
)
LATENCY_TIP = (
    "ours: from the end of the caller's audio to the start of the agent's, as they passed "
    "VoiceDesk (sent to the encoder, out of the decoder): from its first loud block, and from "
    "the first word VoiceDesk's recognizer heard in it (where a recognizer runs)\n"
    "agent: what the agent reported (its own voice-to-voice, or the sum of its "
    "processors' time to first byte)"
)


def takes_text(protocol: EventProtocol) -> bool:
    """The agent's events protocol can give it typed text (RTVI, OpenAI Realtime)."""
    return type(protocol).text_messages is not EventProtocol.text_messages


def source_label(source: TextSource, channel: str) -> str:
    """Where a text came from, in a user's words."""
    if source == TextSource.SENT:
        return "typed (send-text)" if channel == "send-text" else "spoken by VoiceDesk"
    if source == TextSource.RECOGNIZER:
        return f"heard · {channel}" if channel else "VoiceDesk's recognizer"
    return f"agent ({channel})" if channel else "agent"


def utterance_cells(utterance: Utterance) -> tuple[str, str, str]:
    """(words, source, tooltip) of one side's utterance: the best text, where it came from,
    and every source's text in the tooltip (they differ: that is the point of showing them)."""
    words, source = "", ""
    for wanted in (TextSource.AGENT, TextSource.RECOGNIZER, TextSource.SENT):
        text = utterance.text(wanted)
        if text:
            channel = next((t.channel for t in utterance.transcripts if t.source == wanted), "")
            words, source = text, source_label(wanted, channel)
            break
    if words and not any(t.final for t in utterance.transcripts):
        words += " …"  # still partial
    elif not words:
        words = "(speaking)" if utterance.end_ms is None else "(no words reported)"
    if utterance.interrupted:
        words = f"{words}  {INTERRUPTED}"
    lines = []
    for wanted in TextSource:
        text = utterance.text(wanted)
        if text:
            channel = next((t.channel for t in utterance.transcripts if t.source == wanted), "")
            lines.append(f"{source_label(wanted, channel)}: {text}")
    return words, source, "\n".join(lines)


def tool_text(call: ToolCall) -> str:
    args = _short(call.args) if call.args is not None else "…"
    text = f"{call.name or '?'}({args})"
    if call.cancelled:
        return f"{text} cancelled"
    if call.ended_ms is not None:
        return f"{text} → {_short(call.result)}"
    return f"{text} running"


def agent_latency(turn: Turn) -> tuple[float | None, str]:
    """The agent's own figure for a turn and what it is: a voicedesk agent's voice-to-voice,
    else the sum of its processors' time to first byte (RTVI metrics)."""
    if turn.report is not None:
        value = (turn.report.get("latency_ms") or {}).get("voice_to_voice")
        if isinstance(value, (int, float)):
            return float(value), "voice-to-voice"
    ttfb = [m.value for m in turn.metrics if m.name == "ttfb" and m.unit == "ms"]
    if ttfb:
        return sum(ttfb), "TTFB"
    return None, ""


def latency_chip(ours: float | None, turn: Turn, first_word: float | None = None) -> tuple[str, str]:
    """(text, tooltip) of a turn's latency chip: ours from the first loud block and from the
    first word heard, each labelled, beside the agent's own figure."""
    agent, what = agent_latency(turn)
    parts = []
    if ours is not None:
        parts.append(f"ours {ours:.0f} ms")
    if first_word is not None:
        parts.append(f"first word {first_word:.0f} ms")
    if agent is not None:
        parts.append(f"agent {what} {agent:.0f} ms")
    figures = [
        f"{m.processor or 'agent'} {m.name} {m.value:.0f}{' ms' if m.unit == 'ms' else ''}" for m in turn.metrics
    ]
    tip = LATENCY_TIP + ("\nreported: " + ", ".join(figures[:12]) if figures else "")
    return " · ".join(parts), tip


def turn_moment(turn: Turn) -> tuple[float | None, float | None]:
    """(start_ms, end_ms) of a turn on the call's clock: its first and last known instants."""
    starts: list[float] = []
    ends: list[float] = []
    for utterance in (turn.caller, turn.agent):
        if utterance is not None:
            starts += [t for t in (utterance.start_ms, utterance.end_ms) if t is not None]
            ends += [t for t in (utterance.end_ms, utterance.start_ms) if t is not None]
    for call in turn.tool_calls:
        starts += [t for t in (call.started_ms,) if t is not None]
        ends += [t for t in (call.ended_ms, call.started_ms) if t is not None]
    return (min(starts) if starts else None), (max(ends) if ends else None)


def _short(value: Any, limit: int = TEXT_CHARS) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _seconds(ms: float | None) -> str:
    return "" if ms is None else f"{ms / 1000.0:.1f}"


class ConversationPanel(Panel):
    title = "Conversation"

    def __init__(self, context: PanelContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self._tasks = TaskOwner("ConversationPanel", logger=logger, failed="%s failed")
        self.bridge: CallBridge | None = None
        self.words_played = 0  # clicked words played to the end

        self.hint = QLabel("Place a call to see its conversation: the agent's own events and VoiceDesk's.")
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        self.view = QTreeWidget()
        self.view.setHeaderLabels(list(TURN_COLUMNS))
        self.view.setUniformRowHeights(True)
        self.view.setToolTip("Click a row to mark its moment on the graphs' timeline.")
        header = self.view.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.view.setColumnWidth(0, 70)
        self.view.setColumnWidth(1, 56)
        self.view.setColumnWidth(2, 56)
        self.view.setColumnWidth(4, 140)
        self.view.setColumnWidth(5, 200)
        self.view.currentItemChanged.connect(self._row_picked)
        self.words = QLabel()  # the picked reply's words, each a link to its moment
        self.words.setWordWrap(True)
        self.words.setTextFormat(Qt.TextFormat.RichText)
        self.words.setToolTip("Click a word to hear it and mark its moment on the graphs' timeline")
        self.words.linkActivated.connect(self._word_picked)
        self.words.hide()
        self._shown_words: tuple[tuple[str, float, float], ...] = ()

        stored = context.settings.value(STT_KEY, {})
        stored = stored if isinstance(stored, dict) else {}
        self.stt = QComboBox()
        for text, value in STT_ITEMS:
            self.stt.addItem(text, value)
        self.stt.setCurrentIndex(max(0, self.stt.findData(str(stored.get("stt") or ""))))
        self.stt.setToolTip(
            "VoiceDesk's own recognizer on the agent's replies (in a worker process), for the next "
            "call: its words show beside the agent's, with word times"
        )
        self.stt_model = QLineEdit(str(stored.get("model") or ""))
        self.stt_model.setPlaceholderText(f"Whisper model: a directory or name (default ${MODEL_ENV}, then tiny.en)")
        self.stt_model.setClearButtonEnabled(True)
        self.stt.currentIndexChanged.connect(self._stt_changed)
        self.stt_model.editingFinished.connect(self._stt_changed)
        stt_row = QHBoxLayout()
        stt_row.addWidget(QLabel("Recognizer"))
        stt_row.addWidget(self.stt)
        stt_row.addWidget(self.stt_model, 1)
        self._stt_changed()

        self.say_edit = QLineEdit()
        self.say_edit.setPlaceholderText("Type a sentence and press Enter to speak it into the call")
        self.say_edit.returnPressed.connect(self.speak)
        self.send_text_button = QPushButton("Send as text")
        self.send_text_button.clicked.connect(self.send_text)
        say_row = QHBoxLayout()
        say_row.addWidget(self.say_edit, 1)
        say_row.addWidget(self.send_text_button)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(heading("Conversation"))
        left_layout.addWidget(self.hint)
        left_layout.addLayout(stt_row)
        left_layout.addWidget(self.view, 1)
        left_layout.addWidget(self.words)
        left_layout.addLayout(say_row)

        self.type_filter = QComboBox()
        self.type_filter.addItem(ALL_TYPES)
        self.type_filter.setToolTip("Show one message type")
        self.type_filter.currentIndexChanged.connect(self._apply_filter)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter: words in the type or the message")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._apply_filter)
        self.log_count = QLabel()
        self.log_count.setObjectName("hint")
        filters = QHBoxLayout()
        filters.addWidget(self.type_filter)
        filters.addWidget(self.filter_edit, 1)
        self.log = QTreeWidget()
        self.log.setHeaderLabels(list(LOG_COLUMNS))
        self.log.setRootIsDecorated(False)
        self.log.setUniformRowHeights(True)
        self.log.setColumnWidth(0, 56)
        self.log.setColumnWidth(1, 60)
        self.log.setColumnWidth(2, 170)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(heading("Agent events"))
        right_layout.addLayout(filters)
        right_layout.addWidget(self.log, 1)
        right_layout.addWidget(self.log_count)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self._tick)
        self._reset()
        self._set_controls(None)

    # state ------------------------------------------------------------------------
    def _reset(self) -> None:
        self.view.clear()
        self.log.clear()
        self.type_filter.blockSignals(True)
        self.type_filter.clear()
        self.type_filter.addItem(ALL_TYPES)
        self.type_filter.blockSignals(False)
        self._types: set[str] = set()
        self._turn_items: dict[int, QTreeWidgetItem] = {}
        self._children: dict[int, dict[str, QTreeWidgetItem]] = {}
        self._pending_raw: deque[tuple[float, AgentEventReceived]] = deque(maxlen=MAX_LOG_ROWS)
        self._pending_notes: list[tuple[float, str]] = []
        self._dirty_since: list[float] = []  # arrival times of conversation events not yet shown
        self._ticks = 0
        self.messages_seen = 0
        self.turn_rows_dropped = 0
        self.log_rows_dropped = 0
        self._shown_rows = 0  # log rows the filters let through
        # arrival → on screen of each conversation event (ms); the bench reads it
        self.shown_delays_ms: deque[float] = deque(maxlen=DELAYS_KEPT)

    def _set_controls(self, bridge: CallBridge | None) -> None:
        live = bridge is not None and bridge.active
        self.say_edit.setEnabled(live)
        self.say_edit.setToolTip(
            "Spoken by the same engine as the say: source, replacing the source while it plays"
            if live
            else "Place a call first: typed words are spoken into the call"
        )
        channel = bridge.call.agent_events if bridge is not None else None
        protocol = channel.protocol.name if channel is not None else ""
        if not live:
            why = "Place a call first"
        elif channel is None:
            why = "This call reads no agent events, so it cannot send text (voicedesk call --agent-events)"
        elif not takes_text(channel.protocol):
            why = (
                f"The agent's events protocol ({channel.protocol.name}) takes no text; RTVI and OpenAI "
                "Realtime do. Press Enter to speak the words instead."
            )
        else:
            why = ""
        self.send_text_button.setEnabled(not why)
        self.send_text_button.setToolTip(why or f"Give the agent the words as text ({protocol})")

    # the recognizer choice -------------------------------------------------------------
    def _stt_changed(self, *_: object) -> None:
        whisper = self.stt.currentData() == "whisper"
        self.stt_model.setEnabled(whisper)
        self.context.settings.set_value(
            STT_KEY, {"v": 1, "stt": self.stt.currentData(), "model": self.stt_model.text().strip()}
        )

    def stt_choice(self) -> SttChoice | None:
        """The recognizer the next call runs (None: off); ``ConfigError`` for a bad combination."""
        stt = self.stt.currentData()
        if not stt:
            return None
        model = self.stt_model.text().strip() if stt == "whisper" else ""
        return SttChoice(stt, model or None)

    def prepare_call(self, spec: CallSpec) -> CallSpec:
        """The next call transcribes the replies with the chosen recognizer. Checked here, as the
        CLI checks it (faster-whisper installed, the model's files): a missing one is one line
        before dialling; a model that does not load fails the call before it dials."""
        choice = self.stt_choice()
        if choice is None:
            return spec
        from voicedesk.qa.transcripts import recognizer_phrases  # with the first call that transcribes

        choice.check()
        return dataclasses.replace(spec, transcribe=choice, transcribe_phrases=recognizer_phrases((), spec.target))

    # the call -----------------------------------------------------------------------
    def call_extensions(self) -> list[ExtensionRecipe]:
        return [CallSpeechEdges.recipe()]  # our latency is measured from the call's audio

    def call_started(self, bridge: CallBridge) -> None:
        self._reset()
        self.bridge = bridge
        call = bridge.call
        if call.agent_events is None:
            self.hint.setText(
                "This call reads no agent events (voicedesk call --agent-events picks a protocol): only what "
                "VoiceDesk speaks or types shows here."
            )
        else:
            self.hint.setText(f"Reading the agent's {call.agent_events.protocol.name} events…")
        bridge.agent_event.connect(self.on_agent_event)
        bridge.conversation_event.connect(self.on_conversation_event)
        self._set_controls(bridge)
        self.timer.start()

    def call_finished(self, bridge: CallBridge) -> None:
        if bridge is not self.bridge:
            return
        self.timer.stop()
        self._flush()  # what came last, at once: no packets left to protect
        self._set_controls(None)

    async def aclose(self) -> None:
        self.timer.stop()
        await self._tasks.cancel_all()

    # arriving (on the loop: queue only) -----------------------------------------
    @Slot(object)
    def on_agent_event(self, received: AgentEventReceived) -> None:
        self.messages_seen += 1
        self._pending_raw.append((time.perf_counter(), received))

    @Slot(object)
    def on_conversation_event(self, event: ConversationEvent) -> None:
        self._dirty_since.append(time.perf_counter())
        if isinstance(event, EventsNotice):
            self._pending_notes.append((event.t_ms, event.text))
        elif isinstance(event, AgentErrorReported) and self._no_turn_yet():
            # the conversation keeps errors with their turn; one before any turn is a note
            self._pending_notes.append((event.t_ms, f"agent error: {event.message}"))
        elif isinstance(event, AgentReady):
            version = f" {event.version}" if event.version else ""
            self._pending_notes.append((event.t_ms, f"the agent is ready ({event.protocol} {event.type}{version})"))

    @property
    def edges(self) -> SpeechEdgesView | None:
        """The call's speech runs, sent and received, as last read where its media runs."""
        return self.bridge.extension_view(EDGES) if self.bridge is not None else None

    def _no_turn_yet(self) -> bool:
        return self.bridge is not None and not self.bridge.call.conversation.recent_turns(1)

    # drawing (the display timer, through the paint gate) ------------------------------
    def _tick(self) -> None:
        self._ticks += 1
        if self._dirty_since or self._pending_notes or self._ticks % AUDIO_REFRESH_TICKS == 0:
            self.context.paint(self._flush_conversation)
        if self._pending_raw and self._ticks % LOG_EVERY_TICKS == 0:
            self.context.paint(self._append_log)  # its own kind of work: the gate learns its cost apart

    def _flush(self) -> None:
        self._flush_conversation()
        self._append_log()

    def _flush_conversation(self) -> None:
        arrived, self._dirty_since = self._dirty_since, []
        for t_ms, text in self._pending_notes:
            self._add_note(t_ms, text)
        self._pending_notes.clear()
        if self.bridge is not None and (arrived or self._turn_items):
            for turn in self.bridge.call.conversation.recent_turns(LIVE_TURNS):
                self._show_turn(turn)
        if arrived:
            # call_soon: after Qt has processed the repaint the rows asked for
            try:
                asyncio.get_running_loop().call_soon(self._shown, arrived)
            except RuntimeError:  # no loop (a unit test driving the panel by hand)
                self._shown(arrived)

    def _shown(self, arrived: list[float]) -> None:
        now = time.perf_counter()
        self.shown_delays_ms.extend((now - t) * 1000.0 for t in arrived)

    def _add_note(self, t_ms: float, text: str) -> None:
        item = QTreeWidgetItem(["", _seconds(t_ms), "Note", text, "VoiceDesk" if "agent is" not in text else "agent"])
        item.setToolTip(3, text)
        item.setData(0, TIME_ROLE, (t_ms / 1000.0, None))
        self.view.addTopLevelItem(item)
        self._cap_turn_rows()

    def _show_turn(self, turn: Turn) -> None:
        item = self._turn_items.get(turn.index)
        new = item is None
        if item is None:
            if len(self._turn_items) >= MAX_TURN_ROWS and turn.index < min(self._turn_items):
                return  # a turn older than every row kept
            item = QTreeWidgetItem([f"Turn {turn.index}"])
            self._turn_items[turn.index] = item
            self._children[turn.index] = {}
            self.view.addTopLevelItem(item)
        start, end = turn_moment(turn)
        item.setText(1, _seconds(start))
        item.setData(
            0, TIME_ROLE, (start / 1000.0, None if end is None else end / 1000.0) if start is not None else None
        )
        edges = self.edges
        ours = reply_latency_ms(edges.sent, edges.received, turn) if edges is not None else None
        first_word = first_word_latency_ms(edges.sent, turn) if edges is not None else None
        chip, tip = latency_chip(ours, turn, first_word)
        item.setText(5, chip)
        item.setToolTip(5, tip)
        if chip:
            item.setBackground(5, QBrush(QColor(255, 193, 7, 70)))
        if turn.caller is not None:
            self._utterance_row(turn, "caller", "Caller", turn.caller)
        if turn.agent is not None:
            self._utterance_row(turn, "agent", "Agent", turn.agent)
        for i, call in enumerate(turn.tool_calls):
            row = self._child(turn.index, f"tool{i}", "Tool")
            row.setText(1, _seconds(call.started_ms))
            row.setText(3, tool_text(call))
            row.setToolTip(3, tool_text(call))
            row.setText(4, "agent")
            if call.started_ms is not None:
                row.setData(0, TIME_ROLE, (call.started_ms / 1000.0, _s(call.ended_ms)))
        for i, error in enumerate(turn.errors):
            row = self._child(turn.index, f"error{i}", "Error")
            row.setText(3, error)
            row.setToolTip(3, error)
            row.setForeground(3, QBrush(QColor("#c62828")))
        summary = " → ".join(t for t in (turn.heard, turn.said) if t)
        if turn.interrupted:
            summary = f"{summary}  {INTERRUPTED}"
        item.setText(3, summary)
        item.setToolTip(3, summary)
        if new:
            item.setExpanded(True)
            self._cap_turn_rows()
            self.view.scrollToItem(item)

    def _utterance_row(self, turn: Turn, key: str, who: str, utterance: Utterance) -> None:
        row = self._child(turn.index, key, who)
        words, source, tip = utterance_cells(utterance)
        row.setText(1, _seconds(utterance.start_ms))
        row.setText(3, words)
        row.setToolTip(3, tip or words)
        row.setText(4, source)
        if utterance.interrupted:
            row.setForeground(3, QBrush(QColor("#c62828")))
        if utterance.start_ms is not None:
            row.setData(0, TIME_ROLE, (utterance.start_ms / 1000.0, _s(utterance.end_ms)))
        timed = utterance.words
        if timed != (row.data(0, WORDS_ROLE) or ()):
            row.setData(0, WORDS_ROLE, timed)
            if row is self.view.currentItem():
                self._show_words(timed)

    def _child(self, index: int, key: str, who: str) -> QTreeWidgetItem:
        children = self._children[index]
        row = children.get(key)
        if row is None:
            row = QTreeWidgetItem(["", "", who])
            children[key] = row
            self._turn_items[index].addChild(row)
        return row

    def _cap_turn_rows(self) -> None:
        if self.view.topLevelItemCount() <= MAX_TURN_ROWS:
            return
        with QSignalBlocker(self.view):  # a removed current row must not move the graphs' band
            self._drop_oldest_turn_rows()

    def _drop_oldest_turn_rows(self) -> None:
        while self.view.topLevelItemCount() > MAX_TURN_ROWS:
            gone = self.view.takeTopLevelItem(0)
            self.turn_rows_dropped += 1
            for index, item in list(self._turn_items.items()):
                if item is gone:
                    del self._turn_items[index]
                    self._children.pop(index, None)
                    break

    # the raw log --------------------------------------------------------------------
    def _append_log(self) -> None:
        if not self._pending_raw:
            return
        pending, self._pending_raw = self._pending_raw, deque(maxlen=MAX_LOG_ROWS)
        kind, words = self._filters()
        rows = []
        for _, received in pending:
            message = _short(received.event, 100_000)
            row = QTreeWidgetItem([_seconds(received.t_ms), received.protocol, received.type, message[:MESSAGE_CHARS]])
            row.setToolTip(3, message[:4000])
            rows.append(row)
            self._add_type(received.type)
        self.log.addTopLevelItems(rows)
        filtering = kind is not None or bool(words)
        for row in rows:  # hidden after insertion: QTreeWidget keeps the flag only for items in the tree
            if filtering and not _matches(row, kind, words):
                row.setHidden(True)
            else:
                self._shown_rows += 1
        excess = self.log.topLevelItemCount() - MAX_LOG_ROWS
        for _ in range(max(0, excess)):
            gone = self.log.takeTopLevelItem(0)
            self.log_rows_dropped += 1
            if gone is not None and not gone.isHidden():
                self._shown_rows -= 1
        self._count_log()
        if not filtering:
            self.log.scrollToBottom()

    def _add_type(self, kind: str) -> None:
        if kind not in self._types and len(self._types) < MAX_TYPES:
            self._types.add(kind)
            self.type_filter.addItem(kind)

    def _filters(self) -> tuple[str | None, str]:
        kind = self.type_filter.currentText()
        return (None if kind in ("", ALL_TYPES) else kind), self.filter_edit.text().strip().lower()

    def _apply_filter(self, *_: object) -> None:
        kind, words = self._filters()
        self._shown_rows = 0
        for row in self._log_rows():
            hidden = not _matches(row, kind, words)
            row.setHidden(hidden)
            self._shown_rows += not hidden
        self._count_log()

    def _count_log(self) -> None:
        shown = self._shown_rows  # kept as rows come and go: counting 2000 rows each flush costs
        total = self.log.topLevelItemCount()
        dropped = f" ({self.log_rows_dropped} older rows dropped)" if self.log_rows_dropped else ""
        self.log_count.setText(f"{shown} of {total} messages shown{dropped}")

    def _log_rows(self) -> list[QTreeWidgetItem]:
        rows = (self.log.topLevelItem(i) for i in range(self.log.topLevelItemCount()))
        return [row for row in rows if row is not None]

    def visible_log_rows(self) -> int:
        return sum(1 for row in self._log_rows() if not row.isHidden())

    # picking a row --------------------------------------------------------------------
    def _row_picked(self, item: QTreeWidgetItem | None, _previous: QTreeWidgetItem | None = None) -> None:
        if item is None:
            return
        self._show_words(item.data(0, WORDS_ROLE) or ())
        moment = item.data(0, TIME_ROLE)
        parent = item.parent()
        if moment is None and parent is not None:
            moment = parent.data(0, TIME_ROLE)
        if moment is not None:
            start_s, end_s = moment
            self.context.show_on_timeline(float(start_s), None if end_s is None else float(end_s))

    def _show_words(self, words: tuple[tuple[str, float, float], ...]) -> None:
        self._shown_words = tuple(words)
        if not words:
            self.words.hide()
            return
        links = " ".join(f'<a href="word:{i}">{html.escape(w)}</a>' for i, (w, _, _) in enumerate(words))
        self.words.setText(f"Heard: {links}")
        self.words.show()

    def _word_picked(self, link: str) -> None:
        """A word of the picked reply: its moment on the graphs' timeline."""
        try:
            word, start_ms, end_ms = self._shown_words[int(link.removeprefix("word:"))]
        except (ValueError, IndexError):
            return
        self.context.show_on_timeline(start_ms / 1000.0, end_ms / 1000.0)
        self.context.show_message(f"“{word}” at {start_ms / 1000.0:.2f} s of the call", False)
        if self.bridge is not None:
            self._tasks.spawn(self._play_word(self.bridge, word, start_ms, end_ms), "play-word")

    async def _play_word(self, bridge: CallBridge, word: str, start_ms: float, end_ms: float) -> None:
        """Hear that moment of the received audio on the Audio tab's speaker (a little either
        side: a recognizer's word edges are approximate)."""
        device = self.context.settings.value(OUTPUT_KEY, None)
        try:
            await bridge.play_received(max(0.0, start_ms - WORD_MARGIN_MS), end_ms + WORD_MARGIN_MS, device)
        except VoiceDeskError as exc:
            self.context.show_message(f"Could not play “{word}”: {exc}", True)
        else:
            self.words_played += 1

    # speaking and typing ------------------------------------------------------------
    def speak(self) -> None:
        """Enter in the line: speak its words into the call."""
        text = self.say_edit.text().strip()
        bridge = self.bridge
        if not text:
            return
        if bridge is None or not bridge.active:
            self.context.show_message("Place a call first: typed words are spoken into a call.", True)
            return
        self._tasks.spawn(self._say(bridge, text), "say")

    async def _say(self, bridge: CallBridge, text: str) -> None:
        self.say_edit.setEnabled(False)
        try:
            seconds = await bridge.call.say_text(text)
        except VoiceDeskError as exc:
            self.context.show_message(f"Could not speak the words: {exc}", True)
        else:
            self.say_edit.clear()
            self.context.show_message(f"Speaking “{text}” into the call ({seconds:.1f} s).", False)
        finally:
            self._set_controls(bridge if bridge is self.bridge else None)
            self.say_edit.setFocus()

    def send_text(self) -> None:
        """The button: give the line's words to the agent as text."""
        text = self.say_edit.text().strip()
        bridge = self.bridge
        if not text or bridge is None or not bridge.active:
            return
        try:
            bridge.call.send_text(text)
        except VoiceDeskError as exc:
            self.context.show_message(f"Could not send the text: {exc}", True)
            return
        self.say_edit.clear()
        self.context.show_message(f"Sent “{text}” to the agent as text.", False)


def _matches(row: QTreeWidgetItem, kind: str | None, words: str) -> bool:
    if kind is not None and row.text(2) != kind:
        return False
    return not words or words in row.text(2).lower() or words in row.text(3).lower()


def _s(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000.0
