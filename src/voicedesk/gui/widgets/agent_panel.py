"""The embedded agent server: start/stop it, see its port and its live sessions.

The panel owns at most one ``AgentServer`` (started with AppRunner on the app's
loop). Calls to ``embedded:AGENT`` hand their offer to a private agent in-process;
this server is for calling from elsewhere (a browser, another VoiceDesk, ``voicedesk
call``, an HTTP target in this window's dialer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

import voicedesk.agent  # noqa: F401  (registers the agents)
from voicedesk.agent.registry import agent_names
from voicedesk.errors import VoiceDeskError
from voicedesk.gui.widgets.panel import Panel, PanelContext
from voicedesk.tasks import cancel_and_wait

if TYPE_CHECKING:
    from voicedesk.agent.server import AgentServer  # aiohttp: imported when a server starts

logger = logging.getLogger(__name__)


def redact_options(query: str) -> str:
    """Agent options as safe to store and show: secret values (``llm_key=…``) masked."""
    from voicedesk.rtc.signaling.log import redact_url

    return redact_url(f"?{query}")[1:] if query else ""


class AgentPanel(Panel):
    title = "Embedded agent"

    def __init__(self, context: PanelContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.server: AgentServer | None = None
        self._task: asyncio.Task[None] | None = None
        stored = context.settings.value("panels/agent", {})
        stored = stored if isinstance(stored, dict) else {}

        self.agent = QComboBox()
        self.agent.addItems(agent_names())
        self.agent.setCurrentText(str(stored.get("agent", "echo")))
        self.host = QLineEdit(str(stored.get("host", "127.0.0.1")))
        self.host.setToolTip("127.0.0.1 keeps it on this machine; 0.0.0.0 exposes it to the network")
        self.port = QSpinBox()
        self.port.setRange(0, 65535)
        self.port.setSpecialValueText("any free port")
        self.port.setValue(int(stored.get("port", 8080)) if str(stored.get("port", "")).isdigit() else 8080)
        self.options = QLineEdit(redact_options(str(stored.get("options", ""))))
        self.options.setPlaceholderText("agent options, as in embedded:parrot?delay=500&vad=energy")
        self.options.setToolTip(
            "KEY=VALUE pairs joined by &, the same as `voicedesk serve -o KEY=VALUE` and embedded:AGENT?…: "
            "parrot delay=500; voice stt=open&responder=openai&llm_url=…; script say=Hi|Bye. "
            "Secret values (llm_key=…) are not kept after a restart."
        )
        self.toggle = QPushButton("Start server")
        self.toggle.clicked.connect(self._toggle_clicked)
        self.status = QLabel("Stopped.")
        self.status.setWordWrap(True)
        self.url = QLineEdit()
        self.url.setReadOnly(True)
        self.url.setPlaceholderText("offer URL appears when the server runs")
        copy = QPushButton("Copy")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.url.text()))
        use = QPushButton("Call it")
        use.setToolTip("Put this URL into the dialer")
        use.clicked.connect(lambda: self.url.text() and context.set_target(self.url.text()))
        self.sessions = QTreeWidget()
        self.sessions.setHeaderLabels(["Session", "Connection", "Age"])
        self.sessions.setRootIsDecorated(False)
        self.sessions.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)

        form = QFormLayout()
        form.addRow("Agent", self.agent)
        form.addRow("Host", self.host)
        form.addRow("Port", self.port)
        form.addRow("Options", self.options)
        url_row = QHBoxLayout()
        url_row.addWidget(self.url, 1)
        url_row.addWidget(copy)
        url_row.addWidget(use)
        form.addRow("Offer URL", url_row)
        left = QVBoxLayout()
        left.addLayout(form)
        buttons = QHBoxLayout()
        buttons.addWidget(self.toggle)
        buttons.addStretch(1)
        left.addLayout(buttons)
        left.addWidget(self.status)
        left.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(left, 2)
        layout.addWidget(self.sessions, 3)

        self._refresh = QTimer(self)
        self._refresh.setInterval(1000)
        self._refresh.timeout.connect(self.refresh_sessions)

    @property
    def running(self) -> bool:
        return self.server is not None

    def _toggle_clicked(self) -> None:
        if self._task is not None and not self._task.done():
            return
        coro = self.stop_server() if self.running else self.start_server()
        self._task = asyncio.get_running_loop().create_task(coro, name="AgentPanel.toggle")

    async def start_server(self) -> None:
        self.toggle.setEnabled(False)
        self.status.setText("Starting…")
        from voicedesk.agent.server import AgentServer

        options = dict(parse_qsl(self.options.text().strip(), keep_blank_values=True))
        masked = [key for key, value in options.items() if value == "***"]
        if masked:  # restored from the settings, where secrets are not kept
            text = f"embedded agent server: type {', '.join(masked)} again (secret values are not stored)"
            self.status.setText(text)
            self.context.show_message(text, True)
            self.toggle.setEnabled(True)
            return
        server = AgentServer(
            agent=self.agent.currentText(), host=self.host.text().strip(), port=self.port.value(), agent_options=options
        )
        try:
            await server.start()
        except (OSError, VoiceDeskError) as exc:
            if isinstance(exc, OSError):
                where = f"{self.host.text()}:{self.port.value()}"
                text = f"embedded agent server: cannot listen on {where}: {exc.strerror or exc}"
            else:  # the agent refused its options, or an engine it needs is missing
                text = f"embedded agent server: {exc}"
            self.status.setText(text)
            self.context.show_message(text, True)
            with contextlib.suppress(Exception):
                await server.stop()
            return
        finally:
            self.toggle.setEnabled(True)
        self.server = server
        self.context.settings.set_value(
            "panels/agent",
            {
                "agent": server.agent,
                "host": server.host,
                "port": self.port.value(),
                "options": redact_options(self.options.text().strip()),  # no keys in the settings file
            },
        )
        self.url.setText(server.offer_url)
        self.toggle.setText("Stop server")
        for w in (self.agent, self.host, self.port, self.options):
            w.setEnabled(False)
        self.context.show_message(f"embedded {server.agent} agent listening on {server.base_url}", False)
        self._refresh.start()
        self.refresh_sessions()

    async def stop_server(self) -> None:
        server, self.server = self.server, None
        self._refresh.stop()
        if server is None:
            return
        self.toggle.setEnabled(False)
        self.status.setText("Stopping…")
        try:
            await server.stop()
        finally:
            self.toggle.setEnabled(True)
            self.toggle.setText("Start server")
            for w in (self.agent, self.host, self.port, self.options):
                w.setEnabled(True)
            self.url.clear()
            self.sessions.clear()
            self.status.setText(f"Stopped ({server.sessions_total} sessions served).")

    def refresh_sessions(self) -> None:
        server = self.server
        if server is None:
            return
        now = time.monotonic()
        self.sessions.clear()
        for session in list(server.sessions.values()):
            self.sessions.addTopLevelItem(
                QTreeWidgetItem([session.id[:12], session.pc.connectionState, f"{now - session.created:.0f} s"])
            )
        self.status.setText(
            f"Running the {server.agent} agent on {server.base_url}: {len(server.sessions)} live sessions "
            f"(limit {server.max_sessions}), {server.sessions_total} since start. Health: {server.base_url}/health"
        )

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            await asyncio.wait({self._task}, timeout=10)  # a start/stop in progress finishes first
            await cancel_and_wait(self._task)
        await self.stop_server()
