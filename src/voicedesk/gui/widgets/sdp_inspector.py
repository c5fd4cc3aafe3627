"""SDP inspector tab: an editor with highlighting and live lint, a structured view, the
negotiation summary, and a switch that pauses a call after the local offer is created
and after the remote answer arrives so the text can be edited before it is applied.

The pause is the core's edit hook (``Call.edit_offer`` / ``edit_answer``), set on the
call in ``call_started`` before the bridge starts it: the window never touches the
peer connection. While paused the set-up clock stands still (see ``Call._edited``);
Apply hands the edited text to the call, Cancel ends the call with a reason.
Without a call the editor is a scratch pad: paste any SDP and read the findings.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QFont, QFontDatabase, QSyntaxHighlighter, QTextCharFormat, QTextCursor, QTextDocument
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from voicedesk.errors import SdpError, VoiceDeskError
from voicedesk.gui.bridge import CallBridge
from voicedesk.gui.theme import Palette
from voicedesk.gui.widgets.panel import Panel, PanelContext
from voicedesk.rtc.sdp.model import SessionDescription, parse

if TYPE_CHECKING:
    # lint, summary and diff are imported when first used (they cost start-up time)
    from voicedesk.rtc.sdp.lint import Finding, Severity
    from voicedesk.rtc.spec import CallSpec

logger = logging.getLogger(__name__)

LINT_DELAY_MS = 250  # re-lint this long after the last keystroke
KINDS = ("offer", "answer")


class SdpHighlighter(QSyntaxHighlighter):
    """Type letters, attribute names and values; lines with findings get a wavy underline."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self.findings: dict[int, Severity] = {}  # 1-based line -> worst severity
        self.set_palette(None)

    def set_palette(self, palette: Palette | None) -> None:
        dark = palette is not None and palette.name == "dark"
        self.type_format = _fmt("#7aa2f7" if dark else "#0550ae", bold=True)
        self.name_format = _fmt("#bb9af7" if dark else "#8250df")
        self.m_format = _fmt("#e0af68" if dark else "#953800", bold=True)
        self.unknown_format = _fmt("#888888", italic=True)
        self.severity_colors = {
            "error": QColor("#f7768e" if dark else "#cf222e"),
            "warning": QColor("#e0af68" if dark else "#bf8700"),
            "info": QColor("#7dcfff" if dark else "#0969da"),
        }
        self.rehighlight()

    def set_findings(self, findings: list[Finding]) -> None:
        worst: dict[int, Severity] = {}
        for f in findings:
            if f.line and (f.line not in worst or f.severity.rank < worst[f.line].rank):
                worst[f.line] = f.severity
        if worst != self.findings:
            self.findings = worst
            self.rehighlight()

    def highlightBlock(self, text: str) -> None:  # Qt override, Qt naming
        if len(text) >= 2 and text[1] == "=":
            kind = text[0]
            if kind not in "vosiuepcbtrzkam":
                self.setFormat(0, len(text), self.unknown_format)
            elif kind == "m":
                self.setFormat(0, len(text), self.m_format)
            else:
                self.setFormat(0, 2, self.type_format)
                if kind == "a":
                    end = text.find(":")
                    self.setFormat(2, (end if end > 0 else len(text)) - 2, self.name_format)
        severity = self.findings.get(self.currentBlock().blockNumber() + 1)
        if severity is not None:
            for start in range(len(text) or 1):
                fmt = self.format(start) if text else QTextCharFormat()
                fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
                fmt.setUnderlineColor(self.severity_colors[severity.value])
                self.setFormat(start, 1, fmt)


def _fmt(color: str, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(QColor(color))
    if bold:
        fmt.setFontWeight(QFont.Weight.Bold)
    fmt.setFontItalic(italic)
    return fmt


class SdpInspectorPanel(Panel):
    title = "SDP inspector"
    paused = Signal(str)  # "offer" / "answer": waiting for Apply or Cancel
    resumed = Signal(str)

    def __init__(self, context: PanelContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.texts: dict[str, str] = {}  # what the call applied (or what was pasted), exact bytes
        self.originals: dict[str, str] = {}  # before an edit changed it
        self._waiting: asyncio.Future[str] | None = None
        self._waiting_kind: str | None = None
        self._shown_kind = "offer"
        self._loading = False

        self.pause_offer = QCheckBox("Pause after offer")
        self.pause_offer.setToolTip("Stop after the local offer is created: edit it, then Apply (or Cancel the call)")
        self.pause_answer = QCheckBox("Pause after answer")
        self.pause_answer.setToolTip("Stop when the remote answer arrives: edit it, then Apply (or Cancel the call)")
        self.which = QComboBox()
        self.which.addItems(["Offer", "Answer"])
        self.which.setToolTip("Which description the editor shows")
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Use the edited text and go on with the call")
        self.cancel_button = QPushButton("Cancel call")
        self.apply_button.setEnabled(False)
        self.cancel_button.setEnabled(False)
        self.status = QLabel("Paste an SDP, or place a call.")
        self.status.setWordWrap(True)

        self.editor = QPlainTextEdit()
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.editor.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.editor.setPlaceholderText("v=0\no=- …\n(paste an offer or answer here; findings appear as you type)")
        self.highlighter = SdpHighlighter(self.editor.document())

        self.findings = QTreeWidget()
        self.findings.setHeaderLabels(["Line", "Severity", "Rule", "Message"])
        self.findings.setRootIsDecorated(False)
        self.findings.setAlternatingRowColors(True)
        self.structure = QTreeWidget()
        self.structure.setHeaderLabels(["Item", "Value", "Line"])
        self.summary = QPlainTextEdit()
        self.summary.setReadOnly(True)
        self.summary.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.summary.setPlaceholderText("The negotiation summary appears when there is an offer and an answer.")
        self.changes = QPlainTextEdit()
        self.changes.setReadOnly(True)
        self.changes.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.changes.setPlaceholderText("What an edit changed, by section and attribute.")

        views = QTabWidget()
        views.addTab(self.findings, "Findings")
        views.addTab(self.structure, "Structure")
        views.addTab(self.summary, "Summary")
        views.addTab(self.changes, "Edit diff")
        self.views = views

        top = QHBoxLayout()
        for w in (self.pause_offer, self.pause_answer, QLabel("Show:"), self.which):
            top.addWidget(w)
        top.addStretch(1)
        top.addWidget(self.apply_button)
        top.addWidget(self.cancel_button)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.editor)
        splitter.addWidget(views)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(splitter, 1)

        self._lint_timer = QTimer(self)
        self._lint_timer.setSingleShot(True)
        self._lint_timer.setInterval(LINT_DELAY_MS)
        self._lint_timer.timeout.connect(self.relint)
        self.editor.textChanged.connect(self._text_changed)
        self.which.currentIndexChanged.connect(self._show_selected)
        self.apply_button.clicked.connect(self.apply)
        self.cancel_button.clicked.connect(self.cancel)
        self.findings.itemActivated.connect(self._jump)
        self.findings.itemClicked.connect(self._jump)
        self.structure.itemClicked.connect(self._jump)
        for box, key in ((self.pause_offer, "pause_offer"), (self.pause_answer, "pause_answer")):
            box.setChecked(bool(context.settings.value(f"panels/sdp_inspector/{key}", False)))
            box.toggled.connect(lambda on, k=key: context.settings.set_value(f"panels/sdp_inspector/{k}", bool(on)))
        self.highlighter.set_palette(context.palette())

    # the call -----------------------------------------------------------------
    def prepare_call(self, spec: CallSpec) -> CallSpec:
        """Every call passes its offer and answer through here: kept for the views, and held
        for editing when a pause box is ticked (the hooks run inside the call's set-up)."""
        return dataclasses.replace(
            spec, edit_offer=lambda sdp: self._pause("offer", sdp), edit_answer=lambda sdp: self._pause("answer", sdp)
        )

    def call_started(self, bridge: CallBridge) -> None:
        self.texts.clear()
        self.originals.clear()
        self.summary.clear()
        self.changes.clear()
        self._set_editor("")
        self.status.setText("Call placed.")
        bridge.description_set.connect(self._description_set)

    def call_finished(self, bridge: CallBridge) -> None:
        self._resolve(VoiceDeskError("the call ended while a description was being edited"))
        self.status.setText(
            f"Call {bridge.call.state.value}." + (f" {bridge.call.reason}" if bridge.call.reason else "")
        )

    async def _pause(self, kind: str, sdp: str) -> str:
        self.texts[kind] = sdp
        box = self.pause_offer if kind == "offer" else self.pause_answer
        if not box.isChecked():
            return sdp
        self._waiting = asyncio.get_running_loop().create_future()
        self._waiting_kind = kind
        self._show(kind)
        self.apply_button.setEnabled(True)
        self.cancel_button.setEnabled(True)
        self.status.setText(f"Paused after the {kind}: edit it, then Apply, or Cancel the call.")
        self.context.show_message(f"Paused after the {kind}: see the SDP inspector tab", False)
        self._bring_to_front()
        self.paused.emit(kind)
        try:
            return await self._waiting
        finally:
            self._waiting = None
            self._waiting_kind = None
            self.apply_button.setEnabled(False)
            self.cancel_button.setEnabled(False)
            self.resumed.emit(kind)

    @property
    def is_paused(self) -> bool:
        return self._waiting is not None and not self._waiting.done()

    @Slot()
    def apply(self) -> None:
        if not self.is_paused or self._waiting_kind is None:
            return
        kind = self._waiting_kind
        text = self.editor_text(kind)
        try:
            parse(text)
        except SdpError as exc:  # keep the pause: the user fixes the text
            self.status.setText(f"Not applied: {exc}")
            self.context.show_message(f"The edited {kind} is not SDP: {exc}", True)
            return
        if text != self.texts.get(kind):
            self.originals[kind] = self.texts[kind]
        self.texts[kind] = text
        self.status.setText(f"Applying the {'edited' if kind in self.originals else 'unchanged'} {kind}…")
        self._resolve(text)
        self._update_views()

    @Slot()
    def cancel(self) -> None:
        if self.is_paused and self._waiting_kind is not None:
            self._resolve(VoiceDeskError(f"call cancelled while the {self._waiting_kind} was being edited"))

    def _resolve(self, result: str | BaseException) -> None:
        waiting = self._waiting
        if waiting is None or waiting.done():
            return
        if isinstance(result, BaseException):
            waiting.set_exception(result)
        else:
            waiting.set_result(result)

    def _description_set(self, side: str, kind: str, sdp: str) -> None:
        self.texts[kind] = sdp
        # lint, structure and summary are drawn when someone opens the tab: during the
        # set-up they cost ~10 ms of the loop that is connecting the call
        self.when_shown("description", lambda: self._show_latest(kind))

    def _show_latest(self, kind: str) -> None:
        if not self.is_paused:
            self._show(kind)
        self._update_views()

    def _bring_to_front(self) -> None:
        widget = self.parentWidget()
        while widget is not None and not isinstance(widget, QTabWidget):
            widget = widget.parentWidget()
        if isinstance(widget, QTabWidget):
            for index in range(widget.count()):
                page = widget.widget(index)
                if page is self or page.isAncestorOf(self):  # the window may wrap a panel (scroll area)
                    widget.setCurrentIndex(index)

    # the editor ---------------------------------------------------------------
    def editor_text(self, kind: str | None = None) -> str:
        """The editor's text with the line endings of the description it shows."""
        text = self.editor.toPlainText()
        original = self.texts.get(kind or self._shown_kind, "")
        # the editor shows lines, not their endings: use the description's (CRLF, as SDP says, for a paste)
        if ("\r\n" in original or not original) and "\r\n" not in text:
            text = text.replace("\n", "\r\n")
        if text.replace("\r\n", "\n") == original.replace("\r\n", "\n"):
            return original  # unchanged: give back the exact bytes
        return text

    def _show(self, kind: str) -> None:
        self._shown_kind = kind
        self._loading = True
        try:
            self.which.setCurrentIndex(KINDS.index(kind))
        finally:
            self._loading = False
        self._set_editor(self.texts.get(kind, ""))

    def _show_selected(self, index: int) -> None:
        if self._loading:
            return
        if self.is_paused:  # the paused description stays in the editor
            self._loading = True
            self.which.setCurrentIndex(KINDS.index(self._shown_kind))
            self._loading = False
            return
        self._show(KINDS[index])

    def _set_editor(self, text: str) -> None:
        self.editor.setPlainText(text.replace("\r\n", "\n").replace("\r", "\n"))
        self.relint()

    def _text_changed(self) -> None:
        self._lint_timer.start()

    @Slot()
    def relint(self) -> None:
        self._lint_timer.stop()
        kind = self._shown_kind
        text = self.editor_text(kind)
        if not text.strip():
            findings: list[Finding] = []
            desc = None
        else:
            findings, desc = self._lint(kind, text)
        self.highlighter.set_findings(findings)
        self.findings.clear()
        for f in findings:
            item = QTreeWidgetItem([str(f.line or ""), f.severity.value, f.rule, f.message])
            item.setData(0, Qt.ItemDataRole.UserRole, f.line)
            item.setForeground(1, self.highlighter.severity_colors[f.severity.value])
            self.findings.addTopLevelItem(item)
        for column in range(3):
            self.findings.resizeColumnToContents(column)
        self._fill_structure(desc)
        if not self.is_paused and not self._call_active() and text.strip():
            # scratch pad: keep what was pasted per kind, so offer + answer give a summary
            self.texts[kind] = text
            self._update_views()
        errors = sum(1 for f in findings if f.severity.value == "error")
        if not self.is_paused:
            shown = f"{kind}: {errors} errors, {len(findings) - errors} other findings" if text.strip() else ""
            self.status.setText(shown or "Paste an SDP, or place a call.")

    def _call_active(self) -> bool:
        bridge = self.context.current_bridge()
        return bridge is not None and bridge.active

    def _lint(self, kind: str, text: str) -> tuple[list[Finding], SessionDescription | None]:
        from voicedesk.rtc.sdp.lint import lint, lint_pair, lint_text

        try:
            desc = parse(text)
        except SdpError:
            return lint_text(text, kind), None
        offer_text = self.texts.get("offer")
        if kind == "answer" and offer_text:
            try:
                offer = parse(offer_text)
            except SdpError:
                return lint(desc, kind), desc
            return [f for f in lint_pair(offer, desc) if f.sdp == "answer"], desc
        return lint(desc, kind), desc

    def _jump(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        line = item.data(0, Qt.ItemDataRole.UserRole)
        if not line:
            return
        block = self.editor.document().findBlockByNumber(int(line) - 1)
        if block.isValid():
            cursor = QTextCursor(block)
            cursor.select(QTextCursor.SelectionType.LineUnderCursor)
            self.editor.setTextCursor(cursor)
            self.editor.centerCursor()

    def _fill_structure(self, desc: SessionDescription | None) -> None:
        self.structure.clear()
        if desc is None:
            return

        def node(parent: QTreeWidget | QTreeWidgetItem, name: str, value: str = "", line: int | None = None):
            item = QTreeWidgetItem([name, value, str(line or "")])
            item.setData(0, Qt.ItemDataRole.UserRole, line or 0)
            if isinstance(parent, QTreeWidget):
                parent.addTopLevelItem(item)
            else:
                parent.addChild(item)
            return item

        session = node(self.structure, "session", desc.session_name or "", 1)
        if desc.origin:
            node(
                session,
                "origin",
                f"{desc.origin.username} {desc.origin.session_id} v{desc.origin.session_version}",
                desc.origin.line,
            )
        for g in desc.groups:
            node(session, f"group {g.semantics}", " ".join(g.mids), g.line)
        if desc.ice_lite:
            node(session, "ice-lite", "yes", desc.ice_lite_line)
        for media in desc.media:
            sec = node(
                self.structure,
                f"{media.kind} (mid {media.mid})" if media.mid is not None else media.kind,
                f"port {media.port} {media.proto}",
                media.line,
            )
            node(sec, "direction", desc.direction_of(media), media.direction_line or desc.direction_line)
            setup, setup_line = desc.setup_of(media)
            node(sec, "DTLS setup", setup or "not set", setup_line)
            for fp in desc.fingerprints_of(media):
                node(sec, "fingerprint", fp.algorithm, fp.line)
            ufrag, ufrag_line = desc.ice_ufrag_of(media)
            node(sec, "ICE ufrag", ufrag or "missing", ufrag_line)
            node(sec, "rtcp-mux", "yes" if media.rtcp_mux else "no")
            if media.ptime is not None:
                node(sec, "ptime", f"{media.ptime:g} ms", media.ptime_line)
            if media.codecs:
                codecs = node(sec, "codecs", str(len(media.codecs)))
                for codec in media.codecs.values():
                    params = codec.fmtp_text or ""
                    node(
                        codecs,
                        f"PT {codec.payload_type}",
                        f"{codec.describe()} {params}".strip(),
                        codec.rtpmap_line or media.line,
                    )
            if media.candidates:
                cands = node(sec, "candidates", str(len(media.candidates)))
                for c in media.candidates:
                    node(cands, c.type, f"{c.transport} {c.address}:{c.port}", c.line)
            for ext in media.extmaps:
                node(sec, f"extmap {ext.id}", ext.uri, ext.line)
        self.structure.expandToDepth(0)
        self.structure.resizeColumnToContents(0)

    def _update_views(self) -> None:
        from voicedesk.rtc.sdp.diff import diff, format_diff
        from voicedesk.rtc.sdp.summary import format_summary, summarize

        offer, answer = self.texts.get("offer"), self.texts.get("answer")
        if offer and answer:
            try:
                self.summary.setPlainText(format_summary(summarize(parse(offer), parse(answer))))
            except SdpError as exc:
                self.summary.setPlainText(f"cannot summarize: {exc}")
        lines = []
        for kind, original in self.originals.items():
            try:
                lines.append(f"{kind} (as created → as applied)")
                lines.append(format_diff(diff(parse(original), parse(self.texts[kind])), "created", "applied"))
            except SdpError as exc:
                lines.append(f"cannot compare: {exc}")
        self.changes.setPlainText("\n".join(lines))

    def theme_changed(self, palette: Palette) -> None:
        self.highlighter.set_palette(palette)

    async def aclose(self) -> None:
        self._lint_timer.stop()
        # a paused call fails with a reason (and is torn down by the window), never left waiting
        self._resolve(VoiceDeskError("the window closed while a description was being edited"))
