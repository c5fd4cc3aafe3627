"""QA tab: export the call's report bundle, read a customer's chrome://webrtc-internals dump,
and run a scenario (or N repeats of it) against the dialled target.

The report needs the whole call (both recordings, the log), so the panel puts a
``CallCapture`` on every call the window places (a recipe: it records where the
call's media runs, and writes the bundle there when asked). The dump is read by the
core (``voicedesk.qa.webrtc_dump``) and drawn in the same graphs the window uses for
live calls.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from voicedesk.errors import VoiceDeskError
from voicedesk.gui.bridge import CallBridge
from voicedesk.gui.widgets.deferred import Deferred
from voicedesk.gui.widgets.panel import Panel, PanelContext
from voicedesk.gui.widgets.stats_plots import StatsPlots
from voicedesk.qa.capture import CallCapture

if TYPE_CHECKING:
    from voicedesk.qa.runner import ScenarioResult
    from voicedesk.qa.scenario import Scenario
    from voicedesk.qa.webrtc_dump import WebrtcDump
    from voicedesk.rtc.extension import ExtensionRecipe

logger = logging.getLogger(__name__)

# the window may stay on a call for hours: keep the first 20 minutes of audio for the report
GUI_RECORDING_LIMIT_S = 1200.0


class QaPanel(Panel):
    title = "QA"

    def __init__(self, context: PanelContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self._bridge: CallBridge | None = None  # the current or last call, whose report can be exported
        self.dump: WebrtcDump | None = None

        self.export = QPushButton("Export call report…")
        self.export.setToolTip(
            "A folder or .zip with the offer/answer, candidates, ICE configuration (secrets redacted), "
            "stats as CSV and as a webrtc-internals dump, both recordings, the log, the agent's turns "
            "and an HTML report"
        )
        self.export.setEnabled(False)
        self.mask = QCheckBox("Mask IP addresses and device names (to share outside the team)")
        self.mask.setChecked(bool(context.settings.value("panels/qa/mask", False)))
        self.export_status = QLabel("Place a call to export its report.")
        self.export_status.setWordWrap(True)
        reports = QGroupBox("Call report")
        box = QVBoxLayout(reports)
        row = QHBoxLayout()
        row.addWidget(self.export)
        row.addWidget(self.mask, 1)
        box.addLayout(row)
        box.addWidget(self.export_status)

        self.open_dump = QPushButton("Open webrtc-internals dump…")
        self.open_dump.setToolTip('The file chrome://webrtc-internals writes with "Create a WebRTC-Internals dump"')
        self.connections = QComboBox()
        self.connections.setEnabled(False)
        self.dump_status = QLabel("No dump open.")
        self.dump_status.setWordWrap(True)
        self._plots = Deferred(self._make_plots)  # built when the tab is first opened
        dumps = QGroupBox("Browser dump")
        dbox = QVBoxLayout(dumps)
        drow = QHBoxLayout()
        drow.addWidget(self.open_dump)
        drow.addWidget(self.connections, 1)
        dbox.addLayout(drow)
        dbox.addWidget(self.dump_status)
        dbox.addWidget(self._plots, 1)

        layout = QVBoxLayout(self)
        layout.addWidget(reports)
        layout.addWidget(self._scenario_box())
        layout.addWidget(dumps, 1)

        self.export.clicked.connect(self._ask_export)
        self.mask.toggled.connect(lambda on: context.settings.set_value("panels/qa/mask", bool(on)))
        self.open_dump.clicked.connect(self._ask_dump)
        self.connections.currentIndexChanged.connect(self._show_connection)

    # scenario runs -------------------------------------------------------------
    def _scenario_box(self) -> QGroupBox:
        self.scenario: Scenario | None = None
        self.results: list[ScenarioResult] = []
        self._runs_task: asyncio.Task[None] | None = None
        self._export_task: asyncio.Task[None] | None = None
        self.open_scenario = QPushButton("Open scenario…")
        self.runs = QSpinBox()
        self.runs.setRange(1, 1000)
        self.runs.setPrefix("runs: ")
        self.parallel = QSpinBox()
        self.parallel.setRange(1, 8)
        self.parallel.setPrefix("at once: ")
        self.run_button = QPushButton("Run")
        self.run_button.setEnabled(False)
        self.run_button.setToolTip("Call the dialled target (else the scenario's own) once per run")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.runs_status = QLabel("No scenario open.")
        self.runs_status.setWordWrap(True)
        self.run_list = QListWidget()
        self.run_list.setMaximumHeight(110)
        self.conversation = QPlainTextEdit()
        self.conversation.setReadOnly(True)
        self.conversation.setMaximumHeight(150)
        box = QGroupBox("Scenario runs")
        v = QVBoxLayout(box)
        row = QHBoxLayout()
        for w in (self.open_scenario, self.runs, self.parallel, self.run_button, self.stop_button):
            row.addWidget(w)
        row.addStretch(1)
        v.addLayout(row)
        v.addWidget(self.runs_status)
        v.addWidget(self.run_list)
        v.addWidget(self.conversation)
        self.open_scenario.clicked.connect(self._ask_scenario)
        self.run_button.clicked.connect(self.start_runs)
        self.stop_button.clicked.connect(self.stop_runs)
        self.run_list.currentRowChanged.connect(self._show_run)
        return box

    @Slot()
    def _ask_scenario(self) -> None:
        dialog = QFileDialog(self, "Open a scenario")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilters(["Scenarios (*.yaml *.yml)", "All files (*)"])
        dialog.fileSelected.connect(self.load_scenario)
        dialog.open()

    @Slot(str)
    def load_scenario(self, path: str) -> bool:
        """Read and check a scenario file (its first scenario); a bad one is its file:line message."""
        from voicedesk.qa.scenario import load_scenarios

        try:
            self.scenario = load_scenarios(path)[0]
        except VoiceDeskError as exc:
            self.runs_status.setText(str(exc))
            self.context.show_message(str(exc), True)
            return False
        kind = f", {self.scenario.caller.kind} caller" if self.scenario.caller is not None else ""
        self.runs_status.setText(f"{self.scenario.name} ({Path(path).name}{kind})")
        self.run_button.setEnabled(True)
        return True

    @Slot()
    def start_runs(self) -> None:
        if self.scenario is None or (self._runs_task is not None and not self._runs_task.done()):
            return
        self._runs_task = asyncio.get_running_loop().create_task(self._run_all(), name="QaPanel.runs")

    @Slot()
    def stop_runs(self) -> None:
        if self._runs_task is not None and not self._runs_task.done():
            self._runs_task.cancel()

    async def _run_all(self) -> None:
        import asyncio

        from voicedesk.qa.repeat import run_repeated

        assert self.scenario is not None
        target = self.context.dialed_target() or None
        total = self.runs.value()
        self.results = []
        self.run_list.clear()
        self.conversation.clear()
        self.run_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.runs_status.setText(f"{self.scenario.name}: 0 of {total} runs…")
        try:
            await run_repeated(
                self.scenario, total, self.parallel.value(), target, on_result=lambda r: self._run_done(r, total)
            )
        except asyncio.CancelledError:
            self.runs_status.setText(self.runs_status.text() + " — stopped")
            raise
        except VoiceDeskError as exc:
            self.runs_status.setText(str(exc))
            self.context.show_message(str(exc), True)
        finally:
            self.run_button.setEnabled(True)
            self.stop_button.setEnabled(False)

    def _run_done(self, result: ScenarioResult, total: int) -> None:
        self.results.append(result)
        passed = sum(r.passed for r in self.results)
        done = len(self.results)
        flaky = " — flaky" if 0 < passed < done else ""
        self.runs_status.setText(
            f"{result.name}: {done} of {total} runs, {passed} passed ({passed / done * 100:.0f} %){flaky}"
        )
        why = result.error or ", ".join(c.expected for c in result.failures) or "passed"
        self.run_list.addItem(
            f"run {result.run}: {'PASS' if result.passed else 'FAIL'} ({result.duration_s:.1f} s) {why}"
        )
        if self.run_list.currentRow() < 0:
            self.run_list.setCurrentRow(0)

    @Slot(int)
    def _show_run(self, row: int) -> None:
        if not 0 <= row < len(self.results):
            return
        from voicedesk.qa.html import caller_conversation_rows

        result = self.results[row].to_json()
        lines = []
        if result.get("conversation"):
            for at, who, words, source, latency in caller_conversation_rows(result["conversation"], result["turns"]):
                when = f"{at / 1000:6.2f} s" if at is not None else "        "
                lines.append(f"{when}  {who:6} {words}  ({source}{'; ' + latency if latency else ''})")
            lines.append(f"ended: {result['conversation']['ended']}")
        else:
            for turn in result["turns"]:
                lines.append(
                    f"turn {turn['index']}: said {turn['said']}; voice-to-voice {turn.get('voice_to_voice_ms')} ms; "
                    f"heard {turn.get('transcript')!r}"
                )
        lines += [f"{'ok  ' if c['passed'] else 'FAIL'} {c['expected']}: {c['measured']}" for c in result["checks"]]
        self.conversation.setPlainText("\n".join(lines))

    # calls ------------------------------------------------------------------
    def call_extensions(self) -> list[ExtensionRecipe]:
        self._release()  # the last call's, if it still held the log
        # the app logs voicedesk at INFO to its Log tab: the report takes the same lines rather
        # than lowering the level (DEBUG lines would also flow through the Log tab's handler)
        return [CallCapture.recipe(log_level=logging.INFO, max_samples=int(GUI_RECORDING_LIMIT_S * 48_000))]

    def _capture(self) -> CallCapture | None:
        """The capture of the last call, when it ran in this process."""
        capture = self._bridge.extension(CallCapture.KEY) if self._bridge is not None else None
        return capture if isinstance(capture, CallCapture) else None

    def _release(self) -> None:
        capture = self._capture()
        if capture is not None:
            capture.release()

    def call_started(self, bridge: CallBridge) -> None:
        self._bridge = bridge
        self.export.setEnabled(True)
        self.export_status.setText("Recording this call for its report…")

    def call_finished(self, bridge: CallBridge) -> None:
        if bridge is self._bridge:
            self._release()
            self.export_status.setText("The last call can be exported.")

    @property
    def plots(self) -> StatsPlots:
        """The dump's graphs (built on first use)."""
        return self._plots.widget()

    def _make_plots(self) -> StatsPlots:
        plots = StatsPlots()
        plots.set_palette(self.context.palette())
        return plots

    def theme_changed(self, palette) -> None:
        if self._plots.built:
            self.plots.set_palette(palette)
        if self.dump is not None:
            self._show_connection(self.connections.currentIndex())

    async def aclose(self) -> None:
        from voicedesk.tasks import cancel_and_wait

        await cancel_and_wait(self._runs_task)
        await cancel_and_wait(self._export_task)
        self._release()

    # export -----------------------------------------------------------------
    @Slot()
    def _ask_export(self) -> None:
        dialog = QFileDialog(self, "Export call report (a folder name, or a name ending in .zip)")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilters(["Zip archive (*.zip)", "Folder (*)"])
        dialog.selectFile("voicedesk-report.zip")
        dialog.fileSelected.connect(self.export_report)
        dialog.open()  # not exec(): the call and the loop keep running

    @Slot(str)
    def export_report(self, path: str) -> Path | None:
        """Write the bundle of the current or last call; errors go to the status bar. A call in
        the engine process writes it there (the recordings are there): this returns None at
        once and the status line says when it is written."""
        bridge = self._bridge
        if not path or bridge is None:
            return None
        capture, mask = self._capture(), self.mask.isChecked()
        if capture is None:
            if self._export_task is None or self._export_task.done():
                self.export_status.setText("Writing the report…")
                self._export_task = asyncio.get_running_loop().create_task(
                    self._export_remote(bridge, path, mask), name="QaPanel.export"
                )
            return None
        try:
            from voicedesk.qa.report import export_capture  # imported when first used (start-up time)

            where, truncated = export_capture(capture, path, mask)
        except VoiceDeskError as exc:
            self.context.show_message(str(exc), True)
            return None
        self._exported(where, truncated)
        return where

    async def _export_remote(self, bridge: CallBridge, path: str, mask: bool) -> None:
        try:
            where, truncated = await bridge.call.export_extension(CallCapture.KEY, path, mask)
        except VoiceDeskError as exc:
            self.export_status.setText("The report was not written.")
            self.context.show_message(str(exc), True)
            return
        self._exported(where, truncated)

    def _exported(self, where: Path, truncated: bool) -> None:
        note = " (recordings stopped at 20 minutes)" if truncated else ""
        self.export_status.setText(f"Report written to {where}{note}")
        self.context.show_message(f"Call report written to {where}", False)

    # dumps ------------------------------------------------------------------
    @Slot()
    def _ask_dump(self) -> None:
        dialog = QFileDialog(self, "Open a chrome://webrtc-internals dump")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilters(["webrtc-internals dumps (*.json *.txt *.gz)", "All files (*)"])
        dialog.fileSelected.connect(self.load_dump)
        dialog.open()

    @Slot(str)
    def load_dump(self, path: str) -> bool:
        from voicedesk.qa.webrtc_dump import read_dump

        try:
            dump = read_dump(path)
            chosen = dump.connection()
        except VoiceDeskError as exc:
            self.context.show_message(str(exc), True)
            self.dump_status.setText(str(exc))
            return False
        self.dump = dump
        self.connections.blockSignals(True)
        self.connections.clear()
        for conn in dump.connections:
            self.connections.addItem(f"{conn.key} — {len(conn.samples)} samples — {conn.url}", conn.key)
        self.connections.setCurrentIndex(dump.connections.index(chosen))
        self.connections.setEnabled(len(dump.connections) > 1)
        self.connections.blockSignals(False)
        self._show_connection(self.connections.currentIndex())
        return True

    @Slot(int)
    def _show_connection(self, index: int) -> None:
        if self.dump is None or not 0 <= index < len(self.dump.connections):
            return
        conn = self.dump.connections[index]
        self.plots.clear()
        if conn.samples:
            # one redraw for the whole series (add_sample redraws everything it holds each time)
            self.plots.samples = list(conn.samples[:-1])
            self.plots.add_sample(conn.samples[-1])
        seconds = conn.samples[-1].t_ms / 1000.0 if conn.samples else 0.0
        self.dump_status.setText(
            f"{Path(self.dump.path).name}: connection {conn.key}, {len(conn.samples)} samples over {seconds:.0f} s"
            f" ({self.dump.user_agent or 'unknown browser'})"
        )
