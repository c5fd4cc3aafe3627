"""The log panel, fed by a logging.Handler that emits a Qt signal (safe from any thread)."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from voicedesk.gui.widgets.panel import Panel, PanelContext

WEBRTC_LOGGERS = ("aiortc", "aioice")
MAX_LINES = 5000
LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}


class QtLogHandler(logging.Handler):
    """Formats records and emits them as a signal; Qt queues it when the record comes from another thread."""

    class _Emitter(QObject):
        record = Signal(int, str)  # levelno, formatted line

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.emitter = self._Emitter()
        self.setFormatter(
            logging.Formatter("%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.emitter.record.emit(record.levelno, self.format(record))
        except RuntimeError:  # the emitter is gone (app shutting down)
            pass
        except Exception:
            self.handleError(record)


def set_webrtc_verbose(verbose: bool) -> None:
    """aiortc/aioice are chatty: WARNING unless the user asks for more."""
    for name in WEBRTC_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)


_handler: QtLogHandler | None = None


def install_handler() -> QtLogHandler:
    """One handler on the root logger for the app's lifetime (the panel connects to it)."""
    global _handler
    if _handler is None:
        _handler = QtLogHandler()
        root = logging.getLogger()
        root.addHandler(_handler)
        # The handler filters by its own level; let voicedesk's INFO through to it.
        logging.getLogger("voicedesk").setLevel(logging.INFO)
    return _handler


def remove_handler() -> None:
    global _handler
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler = None


class LogPanel(Panel):
    title = "Log"

    def __init__(self, context: PanelContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(MAX_LINES)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.level = QComboBox()
        self.level.addItems(list(LEVELS))
        self.level.setCurrentText("INFO")
        self.level.setToolTip("Lowest level shown")
        self.webrtc = QCheckBox("aiortc/aioice details")
        self.webrtc.setToolTip("Raise the aiortc and aioice loggers to DEBUG (very chatty)")
        self.webrtc.setChecked(context.settings.load().preferences.verbose_webrtc_logs)
        self.webrtc.toggled.connect(set_webrtc_verbose)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.text.clear)
        top = QHBoxLayout()
        top.addWidget(self.level)
        top.addWidget(self.webrtc)
        top.addStretch(1)
        top.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.text, 1)
        self.handler = install_handler()
        self.handler.setLevel(logging.DEBUG)
        self.handler.emitter.record.connect(self.append)

    def append(self, levelno: int, line: str) -> None:
        if levelno >= LEVELS.get(self.level.currentText(), logging.INFO):
            self.text.appendPlainText(line)

    async def aclose(self) -> None:
        self.handler.emitter.record.disconnect(self.append)
