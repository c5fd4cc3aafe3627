"""The local offer and the remote answer as raw text (the SDP inspector adds more)."""

from __future__ import annotations

from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QPlainTextEdit, QPushButton, QSplitter, QVBoxLayout, QWidget

from voicedesk.gui.bridge import CallBridge
from voicedesk.gui.widgets.panel import Panel, PanelContext, heading


class SdpText(QWidget):
    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.heading = heading(title)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setPlaceholderText("appears when the call is placed")
        copy = QPushButton("Copy")
        copy.setToolTip(f"Copy the {title.lower()} to the clipboard")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.text.toPlainText()))
        top = QHBoxLayout()
        top.addWidget(self.heading, 1)
        top.addWidget(copy)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.text, 1)

    def set_sdp(self, kind: str, sdp: str) -> None:
        lines = sdp.count("\n")
        self.heading.setText(f"{self.title} · {kind} · {lines} lines, {len(sdp.encode())} bytes")
        self.text.setPlainText(sdp.replace("\r\n", "\n"))


class SdpPanel(Panel):
    title = "SDP"

    def __init__(self, context: PanelContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.local = SdpText("Local")
        self.remote = SdpText("Remote")
        splitter = QSplitter()
        splitter.addWidget(self.local)
        splitter.addWidget(self.remote)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(splitter)

    def call_started(self, bridge: CallBridge) -> None:
        for side in (self.local, self.remote):
            side.text.clear()
            side.heading.setText(side.title)
        bridge.description_set.connect(self.show_description)

    def show_description(self, side: str, kind: str, sdp: str) -> None:
        (self.local if side == "local" else self.remote).set_sdp(kind, sdp)
