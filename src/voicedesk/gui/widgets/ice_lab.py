"""ICE lab tab: pick a configuration, probe it, and watch candidate pairs during a call.

A view over core objects only: ``voicedesk.config`` (presets, validation),
``voicedesk.rtc.ice_probe.probe`` (run as an owned task, cancellable) and, during a
call, ``call.ice_monitor.snapshot()`` pulled on a 1 s timer (plain data; the
panel never touches the peer connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from voicedesk.config import PROBE_TIMEOUT_S, IceConfig, list_presets, resolve_ice
from voicedesk.errors import VoiceDeskError
from voicedesk.gui.bridge import CallBridge
from voicedesk.gui.widgets.panel import Panel, PanelContext
from voicedesk.rtc.ice_monitor import STATS_NOTE, IceSnapshot

if TYPE_CHECKING:
    from voicedesk.rtc.ice_probe import ProbeReport

logger = logging.getLogger(__name__)

CANDIDATE_COLUMNS = ("type", "protocol", "address", "port", "priority", "related", "ms", "server")
VERDICT_COLUMNS = ("server", "via", "verdict", "rtt ms", "used by aiortc")
PAIR_COLUMNS = ("local", "remote", "state", "path", "nominated", "last change ms")
REFRESH_MS = 1000
TASK_CANCEL_TIMEOUT = 5.0
SETTINGS_KEY = "panels/ice_lab/selection"


def _tree(columns: tuple[str, ...]) -> QTreeWidget:
    tree = QTreeWidget()
    tree.setHeaderLabels([c.capitalize() for c in columns])
    tree.setRootIsDecorated(False)
    tree.setAlternatingRowColors(True)
    tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    return tree


class IceLabPanel(Panel):
    title = "ICE lab"

    def __init__(self, context: PanelContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self._probe_task: asyncio.Task[None] | None = None
        self._bridge: CallBridge | None = None
        self.report: ProbeReport | None = None
        self.snapshot: IceSnapshot | None = None

        # configuration: preset or file, relay-only, timeout
        self.config_pick = QComboBox()
        self.config_pick.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.config_pick.setMinimumContentsLength(12)
        self.config_pick.setToolTip("An ICE preset, or an RTCConfiguration JSON file")
        self.browse = QPushButton("File…")
        self.browse.clicked.connect(self._browse)
        self.relay_only = QCheckBox("Relay only")
        self.relay_only.setToolTip('iceTransportPolicy "relay": only TURN candidates')
        self.timeout = QDoubleSpinBox()
        self.timeout.setRange(0.5, 60.0)
        self.timeout.setValue(PROBE_TIMEOUT_S)
        self.timeout.setSuffix(" s")
        self.timeout.setToolTip("How long each server gets to answer")
        self.probe_button = QPushButton("Probe")
        self.probe_button.clicked.connect(self.start_probe)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_probe)
        self.use_button = QPushButton("Use for calls")
        self.use_button.setToolTip("Put this configuration into the dialer's ICE field")
        self.use_button.clicked.connect(self.use_for_calls)
        self.status = QLabel("Pick a preset or a file and press Probe.")
        self.status.setWordWrap(True)

        # two short rows rather than one long one: the tab must not widen the window
        top = QHBoxLayout()
        top.addWidget(QLabel("ICE configuration"))
        top.addWidget(self.config_pick, 1)
        top.addWidget(self.browse)
        actions = QHBoxLayout()
        actions.addWidget(self.relay_only)
        actions.addWidget(QLabel("Timeout"))
        actions.addWidget(self.timeout)
        actions.addStretch(1)
        actions.addWidget(self.probe_button)
        actions.addWidget(self.cancel_button)
        actions.addWidget(self.use_button)

        # probe results
        self.candidates = _tree(CANDIDATE_COLUMNS)
        self.verdicts = _tree(VERDICT_COLUMNS)
        self.diagnosis = QPlainTextEdit()
        self.diagnosis.setReadOnly(True)
        self.diagnosis.setMaximumBlockCount(200)
        probe_box = QGroupBox("Probe")
        probe_layout = QVBoxLayout(probe_box)
        probe_layout.addWidget(self.candidates, 2)
        probe_layout.addWidget(self.verdicts, 1)
        probe_layout.addWidget(self.diagnosis, 1)

        # the call on screen
        self.path_label = QLabel("No call yet.")
        self.pairs = _tree(PAIR_COLUMNS)
        self.timeline = QPlainTextEdit()
        self.timeline.setReadOnly(True)
        note = QLabel(STATS_NOTE + ".")
        note.setWordWrap(True)
        call_box = QGroupBox("During the call")
        call_layout = QVBoxLayout(call_box)
        call_layout.addWidget(self.path_label)
        call_layout.addWidget(self.pairs, 2)
        call_layout.addWidget(self.timeline, 1)
        call_layout.addWidget(note)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(probe_box)
        split.addWidget(call_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addLayout(actions)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)

        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh_call)
        self.reload_presets()

    # configuration ------------------------------------------------------
    def reload_presets(self) -> None:
        previous = self.context.settings.value(SETTINGS_KEY, "host-only")
        self.config_pick.clear()
        try:
            presets = list_presets()
        except VoiceDeskError as exc:
            presets = []
            self.context.show_message(str(exc), True)
        for preset in presets:
            suffix = " (template)" if preset.template else ""
            self.config_pick.addItem(f"{preset.name}{suffix}", preset.name)
            self.config_pick.setItemData(self.config_pick.count() - 1, preset.description, Qt.ItemDataRole.ToolTipRole)
        if previous and self.config_pick.findData(previous) < 0:
            self.config_pick.addItem(str(previous), previous)  # a file chosen earlier
        self.config_pick.setCurrentIndex(max(0, self.config_pick.findData(previous)))

    def _browse(self) -> None:
        dialog = QFileDialog(self, "ICE configuration", "", "RTCConfiguration JSON (*.json);;All files (*)")
        dialog.fileSelected.connect(self.select)
        dialog.open()

    def select(self, spec: str) -> None:
        """Choose a preset name or a file path."""
        if self.config_pick.findData(spec) < 0:
            self.config_pick.addItem(spec, spec)
        self.config_pick.setCurrentIndex(self.config_pick.findData(spec))

    def selected_spec(self) -> str:
        return str(self.config_pick.currentData() or "")

    def selected_config(self) -> IceConfig:
        return resolve_ice(self.selected_spec() or None, relay_only=self.relay_only.isChecked())

    def use_for_calls(self) -> None:
        window = self.window()
        field = getattr(getattr(window, "dialer", None), "ice_path", None)
        if field is None:
            self.context.show_message("the dialer has no ICE field to fill", True)
            return
        field.setText(self.selected_spec())
        note = ""
        if self.relay_only.isChecked() and self.selected_config().iceTransportPolicy != "relay":
            note = ' (the relay-only box applies to probes; for calls, save a configuration with "relay")'
        self.context.show_message(f"calls will use ICE configuration {self.selected_spec()}{note}", False)

    # probe ----------------------------------------------------------------
    def start_probe(self) -> None:
        if self._probe_task is not None and not self._probe_task.done():
            return
        try:
            config = self.selected_config()
        except VoiceDeskError as exc:
            self.status.setText(str(exc))
            self.context.show_message(str(exc), True)
            return
        self.context.settings.set_value(SETTINGS_KEY, self.selected_spec())
        self.probe_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText(f"Probing {len(config.urls)} server URL(s), up to {self.timeout.value():g} s each…")
        self._probe_task = asyncio.get_running_loop().create_task(
            self._run_probe(config, self.timeout.value()), name="IceLabPanel.probe"
        )

    async def _run_probe(self, config: IceConfig, timeout_s: float) -> None:
        from voicedesk.rtc.ice_probe import probe  # the STUN/TURN client: imported when first used

        try:
            report = await probe(config, timeout_s=timeout_s)
        except asyncio.CancelledError:
            self.status.setText("Probe cancelled.")
            raise
        except Exception as exc:  # a view must survive anything; the core already words expected errors
            logger.exception("ICE probe failed")
            self.status.setText(f"probe failed: {exc}")
            self.context.show_message(f"ICE probe failed: {exc}", True)
        else:
            self.show_report(report)
        finally:
            self.probe_button.setEnabled(True)
            self.cancel_button.setEnabled(False)

    def cancel_probe(self) -> None:
        if self._probe_task is not None and not self._probe_task.done():
            self._probe_task.cancel()

    def show_report(self, report: ProbeReport) -> None:
        self.report = report
        self.candidates.clear()
        for c in report.candidates:
            related = f"{c.related_address}:{c.related_port}" if c.related_address else ""
            values = (
                c.type,
                c.protocol,
                c.address,
                str(c.port),
                str(c.priority),
                related,
                f"{c.ms:.0f}",
                c.server or "",
            )
            self.candidates.addTopLevelItem(QTreeWidgetItem(list(values)))
        self.verdicts.clear()
        for v in report.verdicts:
            rtt = "" if v.rtt_ms is None else f"{v.rtt_ms:.1f}"
            item = QTreeWidgetItem([v.url, v.transport, v.text, rtt, "yes" if v.used_by_aiortc else "no"])
            item.setToolTip(2, v.text)
            self.verdicts.addTopLevelItem(item)
        lines = [f"warning: {w}" for w in report.warnings] + [f"diagnosis: {d}" for d in report.diagnosis]
        self.diagnosis.setPlainText("\n".join(lines))
        verdict = "every server answered as configured" if report.ok else "some servers did not answer as configured"
        self.status.setText(
            f"{len(report.candidates)} candidates, {len(report.verdicts)} servers in {report.duration_ms:.0f} ms: "
            f"{verdict}."
        )

    # the call -----------------------------------------------------------
    def call_started(self, bridge: CallBridge) -> None:
        self._bridge = bridge
        self.pairs.clear()
        self.timeline.clear()
        self.path_label.setText("Gathering…")
        self.timer.start()

    def call_finished(self, bridge: CallBridge) -> None:
        if bridge is self._bridge:
            self.refresh_call()
            self.timer.stop()

    def refresh_call(self) -> None:
        bridge = self._bridge
        monitor = getattr(bridge.call, "ice_monitor", None) if bridge is not None else None
        if monitor is None:
            return
        try:
            snap = monitor.snapshot()
        except Exception:  # the monitor reads aioice internals; never take the window down
            logger.debug("ICE snapshot failed", exc_info=True)
            return
        self.show_snapshot(snap)

    def show_snapshot(self, snap: IceSnapshot) -> None:
        self.snapshot = snap
        if snap.selected is not None:
            turn = " — through our TURN relay" if snap.turn_used else ""
            self.path_label.setText(f"Path: {snap.path}{turn}  ({snap.selected.label})")
        elif snap.diagnosis:
            self.path_label.setText("Not connected: " + "; ".join(snap.diagnosis))
        else:
            pairs = f"{len(snap.pairs)} pairs" if snap.available else snap.note  # not "0 pairs": they were not read
            self.path_label.setText(
                f"{len(snap.local_candidates)} local, {len(snap.remote_candidates)} remote candidates; {pairs}"
            )
        self.pairs.clear()
        for p in snap.pairs:
            last = f"{p.history[-1][0]:.0f}" if p.history else ""
            nominated = "selected" if p.selected else ("yes" if p.nominated else "")
            self.pairs.addTopLevelItem(
                QTreeWidgetItem([p.local.label, p.remote.label, p.state, p.path, nominated, last])
            )
        self.timeline.setPlainText("\n".join(f"{e.ms:8.0f} ms  {e.what} {e.state}" for e in snap.timeline))

    async def aclose(self) -> None:
        self.timer.stop()
        task = self._probe_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError, Exception):
                await asyncio.wait_for(task, TASK_CANCEL_TIMEOUT)
        self._bridge = None
