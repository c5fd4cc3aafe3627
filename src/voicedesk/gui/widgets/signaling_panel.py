"""The signaling tab: every request/response (or WebSocket message) the call's signaling made.

A table of exchanges (time, method, URL, status, duration, sizes) and, for the
selected one, what was sent and received: headers (secrets already masked by the
core) and body previews. It shows what ``voicedesk -v call`` prints, from the
same ``SignalingExchanged`` events, delivered by the call's bridge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from voicedesk.gui.widgets.panel import Panel, PanelContext
from voicedesk.rtc.signaling.log import SignalingExchanged

if TYPE_CHECKING:
    from voicedesk.gui.bridge import CallBridge

COLUMNS = ("t (ms)", "method", "URL", "status", "ms", "sent", "received")
MAX_ROWS = 500  # a Janus long poll adds one row every 30 s; keep the table bounded


def _size(n: int) -> str:
    return "" if n == 0 else f"{n} B" if n < 1024 else f"{n / 1024:.1f} kB"


def describe(event: SignalingExchanged) -> str:
    """The detail text of one exchange, as shown under the table."""
    parts = [event.one_line(), ""]
    if event.error:
        parts += [f"error: {event.error}", ""]
    if event.request_headers or event.request_body:
        parts.append("── sent ──")
        parts += [f"{k}: {v}" for k, v in event.request_headers]
        if event.request_body:
            parts += ["", event.request_body]
        parts.append("")
    if event.status is not None or event.response_headers or event.response_body:
        parts.append("── received ──")
        if event.status is not None:
            parts.append(f"HTTP {event.status} {event.reason}".rstrip())
        parts += [f"{k}: {v}" for k, v in event.response_headers]
        if event.response_body:
            parts += ["", event.response_body]
    return "\n".join(parts).rstrip() + "\n"


class SignalingPanel(Panel):
    title = "Signaling"

    def __init__(self, context: PanelContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.exchanges: list[SignalingExchanged] = []
        self.summary = QLabel("No call yet: the requests and responses of the next call appear here.")
        self.summary.setWordWrap(True)  # a long URL must not widen the whole window
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.detail = QPlainTextEdit()
        self.detail.setReadOnly(True)
        self.detail.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.detail.setPlaceholderText("Select an exchange to see its headers and bodies.")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.detail)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(splitter)
        self.table.itemSelectionChanged.connect(self.on_selection)

    def call_started(self, bridge: CallBridge) -> None:
        self.exchanges.clear()
        self.table.setRowCount(0)
        self.detail.clear()
        self.summary.setText(f"Signaling: {bridge.call.signaling.description}")
        bridge.signaling_exchanged.connect(self.add_exchange)

    @Slot(object)
    def add_exchange(self, event: SignalingExchanged) -> None:
        if len(self.exchanges) >= MAX_ROWS:
            self.exchanges.pop(0)
            self.table.removeRow(0)
        self.exchanges.append(event)
        row = self.table.rowCount()
        self.table.insertRow(row)
        status = event.outcome
        cells = (
            "" if event.t_ms is None else f"{event.t_ms:.0f}",
            event.method,
            event.url,
            status,
            f"{event.elapsed_ms:.0f}" if event.method not in ("SEND", "RECV") else "",
            _size(event.request_bytes),
            _size(event.response_bytes),
        )
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if column == 3 and (event.error or (event.status or 0) >= 400):
                item.setForeground(Qt.GlobalColor.red)
            self.table.setItem(row, column, item)
        if not self.table.selectedItems():
            self.detail.setPlainText(describe(event))

    @Slot()
    def on_selection(self) -> None:
        rows = {index.row() for index in self.table.selectedIndexes()}
        if rows:
            self.detail.setPlainText(describe(self.exchanges[min(rows)]))
