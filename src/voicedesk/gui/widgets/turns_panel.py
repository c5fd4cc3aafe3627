"""Agent turns, live: what the agent heard and said, and how long each stage took.

Fed by the call's agent events (the "voicedesk" data channel, see
``voicedesk.rtc.events``): the line at the top follows the turn in progress
(speech, partial transcripts, reply), the table gets one row per finished turn.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QHeaderView, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from voicedesk.gui.bridge import CallBridge
from voicedesk.gui.widgets.panel import Panel, PanelContext

COLUMNS = (
    "Turn",
    "Heard",
    "Said",
    "Voice→voice (ms)",
    "End detection",
    "Transcription",
    "Response",
    "Synthesis",
    "Barge-in",
)


def _ms(value: Any) -> str:
    return "–" if value is None else f"{float(value):.0f}"


def turn_row(turn: dict[str, Any]) -> list[str]:
    """The table cells of one ``turn`` report."""
    latency = turn.get("latency_ms") or {}
    said = turn.get("response") or ""
    if turn.get("interrupted"):
        said = f"{said} [interrupted]"
    if turn.get("errors"):
        said = f"{said} [error: {'; '.join(turn['errors'])}]"
    return [
        str(turn.get("turn", "")),
        turn.get("transcript") or "",
        said.strip(),
        _ms(latency.get("voice_to_voice")),
        _ms(latency.get("end_detection")),
        _ms(latency.get("transcription")),
        _ms(latency.get("response")),
        _ms(latency.get("synthesis")),
        _ms(latency.get("barge_in")),
    ]


def live_text(event: dict[str, Any]) -> str | None:
    """One line for the turn in progress, or None for events that do not change it."""
    kind = event.get("type")
    turn = event.get("turn")
    if kind == "speech_started":
        return f"Turn {turn}: caller speaking…"
    if kind == "transcript":
        return f"Turn {turn}: {'heard' if event.get('final') else 'hearing'} “{event.get('text', '')}”"
    if kind == "response_started":
        return f"Turn {turn}: agent answering…"
    if kind == "audio_out_started":
        return f"Turn {turn}: agent speaking"
    if kind == "barge_in":
        return f"Turn {turn}: caller barged in (agent stopped in {_ms(event.get('stop_ms'))} ms)"
    if kind == "error":
        return f"Agent error: {event.get('message', '')}"
    return None


class TurnsPanel(Panel):
    title = "Agent turns"

    def __init__(self, context: PanelContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.live = QLabel("Turns of VoiceDesk's own agents (embedded:voice, parrot, script) appear here.")
        self.live.setWordWrap(True)
        self.table = QTreeWidget()
        self.table.setHeaderLabels(list(COLUMNS))
        self.table.setRootIsDecorated(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.addWidget(self.live)
        layout.addWidget(self.table)
        self.turns: list[dict[str, Any]] = []

    def call_started(self, bridge: CallBridge) -> None:
        self.table.clear()
        self.turns.clear()
        channel = bridge.call.agent_events
        if channel is None:
            self.live.setText("This call has no agent events channel (voicedesk call --agent-events opens one).")
        elif channel.protocol.name != "voicedesk":  # these timing reports are the voicedesk protocol's
            self.live.setText(
                f"This agent reports its turns over {channel.protocol.name}: see them in the Conversation tab."
            )
        else:
            self.live.setText("Waiting for the caller to speak…")
        bridge.agent_event.connect(self.on_agent_event)

    @Slot(object)
    def on_agent_event(self, received: Any) -> None:
        if received.protocol != "voicedesk":
            return  # RTVI and OpenAI messages are not VoiceDesk's turn events (see rtc/events/)
        event = received.event
        if event.get("type") == "turn":
            self.turns.append(event)
            item = QTreeWidgetItem(turn_row(event))
            item.setToolTip(2, item.text(2))
            self.table.addTopLevelItem(item)
            self.table.scrollToItem(item)
            return
        text = live_text(event)
        if text is not None:
            self.live.setText(text)
