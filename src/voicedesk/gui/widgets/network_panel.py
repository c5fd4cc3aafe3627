"""Bad networks on demand, and how the call is doing: the impairment relay's
controls (set before a call, changed during it), its ground-truth counters, the
MOS estimate and what the received audio itself shows.

Everything here reads the call's public figures once a second (``latest_stats``,
``received_audio()``, ``impairment_now()``, ``impairment_counters()``: cheap, unlike
``summary()``, whose frequency analysis costs ~2 ms); nothing in the media path waits for
the window. The impairment goes into the next call's spec (``prepare_call``) and is
changed during a call only through ``Call.update_impairment``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from voicedesk.errors import VoiceDeskError
from voicedesk.gui.bridge import CallBridge
from voicedesk.gui.widgets.conditions_group import ConditionsGroup
from voicedesk.gui.widgets.panel import Panel, PanelContext
from voicedesk.rtc.call import Call
from voicedesk.rtc.impair import PRESETS, ImpairmentSpec
from voicedesk.rtc.impair_schedule import parse_schedule
from voicedesk.rtc.liveness import MEDIA_TIMEOUT
from voicedesk.rtc.quality import estimate_mos

if TYPE_CHECKING:
    from voicedesk.rtc.spec import CallSpec

MOS_TOOLTIP = (
    "E-model estimate (ITU-T G.107, simplified as VoIP monitors do):\n"
    "d = RTT/2 + 2×jitter + 26.5 ms codec;  R = 93.2 − Id(d) − Ie,eff(loss)\n"
    "Ie = 0, Bpl = 25.1 (G.711 with PLC: G.113 lists none for Opus).\n"
    "RTT comes from the peer's RTCP; without it d counts jitter and codec only."
)


class NetworkPanel(Panel):
    title = "Network"

    def __init__(self, context: PanelContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self._bridge: CallBridge | None = None

        self.enabled = QCheckBox("Route calls through the impairment relay (set before dialling)")
        self.enabled.setChecked(bool(context.settings.value("panels/network/enabled", False)))
        self.spec = QLineEdit(str(context.settings.value("panels/network/spec", "loss=0%")))
        self.spec.setPlaceholderText("loss=5%,burst=2,delay=80ms,jitter=20ms,rate=64kbit  (up./down. for one way)")
        self.spec.setToolTip("Each figure applies to each direction unless prefixed up. (sent) or down. (received).")
        self.schedule = QLineEdit(str(context.settings.value("panels/network/schedule", "")))
        self.schedule.setPlaceholderText("changes after connecting, e.g. 5:loss=20%; 10:loss=0%  (as --impair-at)")
        self.schedule.setToolTip("SECONDS:FIGURES, separated by ';': each applied that long after the call connects")
        self.presets = QComboBox()
        self.presets.addItem("Presets…")
        self.presets.addItems(list(PRESETS))
        self.apply = QPushButton("Apply now")
        self.apply.setToolTip("Change the impairment of the call in progress (marked on the graphs)")
        self.current = QLabel("No impairment")
        self.current.setWordWrap(True)

        controls = QGroupBox("Impairment")
        form = QVBoxLayout(controls)
        form.addWidget(self.enabled)
        row = QHBoxLayout()
        row.addWidget(self.spec, 1)
        row.addWidget(self.presets)
        row.addWidget(self.apply)
        form.addLayout(row)
        form.addWidget(self.schedule)
        form.addWidget(self.current)

        liveness = QGroupBox("When the peer's audio stops")
        self.media_timeout = QDoubleSpinBox()
        self.media_timeout.setRange(0.0, 3600.0)
        self.media_timeout.setDecimals(1)
        self.media_timeout.setSuffix(" s")
        self.media_timeout.setMaximumWidth(160)  # a few digits; the form would stretch it across the tab
        self.media_timeout.setSpecialValueText("never (off)")
        self.media_timeout.setValue(float(context.settings.value("panels/network/media_timeout", MEDIA_TIMEOUT)))
        self.media_timeout.setToolTip("No audio packet from the peer for this long: the peer died or the path broke")
        self.ride_out = QCheckBox("Ride it out: say so and stay on the call (a test that expects outages)")
        self.ride_out.setChecked(bool(context.settings.value("panels/network/ride_out", False)))
        live_form = QFormLayout(liveness)
        live_form.addRow("Report after", self.media_timeout)
        live_form.addRow(self.ride_out)

        self.labels: dict[str, QLabel] = {}
        figures = QGroupBox("How the call is doing")
        grid = QFormLayout(figures)
        for key, title, tip in (
            ("mos", "MOS estimate", MOS_TOOLTIP),
            ("gaps", "Missing audio", "Audio that never arrived, from the decoded frames' timestamps"),
            ("clipped", "Clipped samples", "Received samples at full scale"),
            ("silent", "Silent audio", "Received audio below −70 dBFS (the peer may have spoken)"),
            ("up", "Relay, sent ↑", "Ground truth: what the relay saw and dropped of what we sent"),
            ("down", "Relay, received ↓", "Ground truth: what the relay saw and dropped of what we received"),
        ):
            label = QLabel("–")
            label.setToolTip(tip)
            self.labels[key] = label
            caption = QLabel(title)
            caption.setToolTip(tip)
            grid.addRow(caption, label)

        layout = QVBoxLayout(self)
        layout.addWidget(controls)
        layout.addWidget(liveness)
        self.conditions = ConditionsGroup(context.settings)
        layout.addWidget(self.conditions)
        layout.addWidget(figures)
        layout.addStretch(1)

        self.presets.activated.connect(self._on_preset)
        self.apply.clicked.connect(self._on_apply)
        self.enabled.toggled.connect(lambda on: context.settings.set_value("panels/network/enabled", on))
        self.spec.editingFinished.connect(lambda: context.settings.set_value("panels/network/spec", self.spec.text()))
        self.media_timeout.valueChanged.connect(
            lambda value: context.settings.set_value("panels/network/media_timeout", value)
        )
        self.ride_out.toggled.connect(lambda on: context.settings.set_value("panels/network/ride_out", on))
        self.schedule.editingFinished.connect(
            lambda: context.settings.set_value("panels/network/schedule", self.schedule.text())
        )
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self.refresh)
        self._update_apply()

    # what the window asks before it dials ------------------------------
    def prepare_call(self, spec: CallSpec) -> CallSpec:
        """The media watchdog's settings; the relay's figures and their schedule when the relay is
        on (``ConfigError`` for a bad one)."""
        spec = dataclasses.replace(
            spec,
            media_timeout=self.media_timeout.value() or None,
            ride_out=self.ride_out.isChecked(),
            conditions=self.conditions.conditions(),
        )
        if not self.enabled.isChecked():
            return spec
        steps = [step.strip() for step in self.schedule.text().split(";") if step.strip()]
        return dataclasses.replace(
            spec, impairment=self.impairment_for_new_call(), impair_schedule=parse_schedule(steps)
        )

    def impairment_for_new_call(self) -> ImpairmentSpec | None:
        """The impairment to put in the next call's path, or None (no relay).

        Raises ``ConfigError`` with the user's message for a bad figure."""
        if not self.enabled.isChecked():
            return None
        return ImpairmentSpec.parse(self.spec.text())

    # hooks ---------------------------------------------------------------
    def call_started(self, bridge: CallBridge) -> None:
        self._bridge = bridge
        for label in self.labels.values():
            label.setText("–")
        self._timer.start()
        self._update_apply()

    def call_finished(self, bridge: CallBridge) -> None:
        self.refresh()
        try:
            self.conditions.show_result(bridge.call.summary())
        except VoiceDeskError:  # the engine process stopped before it could summarize the call
            pass
        self._timer.stop()
        self._update_apply()

    async def aclose(self) -> None:
        self._timer.stop()

    # slots ---------------------------------------------------------------
    @Slot(int)
    def _on_preset(self, index: int) -> None:
        if index <= 0:
            return
        self.spec.setText(PRESETS[self.presets.itemText(index)])
        self.context.settings.set_value("panels/network/spec", self.spec.text())
        self.presets.setCurrentIndex(0)
        if self._impaired_call() is not None:
            self._on_apply()

    @Slot()
    def _on_apply(self) -> None:
        call = self._impaired_call()
        if call is None:
            self.context.show_message("Impairment applies to a call placed with the relay on", True)
            return
        try:
            spec = call.update_impairment(self.spec.text())
        except VoiceDeskError as exc:
            self.context.show_message(str(exc), True)
            return
        self.context.show_message(f"Impairment now {spec.describe()}", False)
        self.refresh()

    def _impaired_call(self) -> Call | None:
        """The current call, if it goes through the impairment relay."""
        bridge = self._bridge or self.context.current_bridge()
        if bridge is None or bridge.call.impairment_now() is None:
            return None
        return bridge.call

    def _update_apply(self) -> None:
        self.apply.setEnabled(self._impaired_call() is not None)

    @Slot()
    def refresh(self) -> None:
        """Read the call's figures (about once a second while a call runs)."""
        bridge = self._bridge
        if bridge is None:
            return
        call = bridge.call
        self._update_apply()
        now = call.impairment_now()
        self.current.setText(f"Now: {now.describe()}" if now is not None else "No impairment in this call")
        latest = call.latest_stats
        estimate = estimate_mos(latest.rtt_ms, latest.jitter_ms, latest.loss_pct) if latest else None
        if estimate is not None:
            rtt_note = "" if estimate.rtt_known else ", no RTT yet"
            self.labels["mos"].setText(
                f"{estimate.mos:.2f}  (R {estimate.r_factor:.0f}, one-way {estimate.one_way_delay_ms:.0f} ms{rtt_note})"
            )
        received = call.received_audio()
        self.labels["gaps"].setText(f"{received.gap_ms:.0f} ms in {received.gaps} gaps")
        self.labels["clipped"].setText(str(received.clipped_samples))
        self.labels["silent"].setText(f"{received.silent_ms:.0f} ms")
        counters = call.impairment_counters()
        for direction in ("up", "down"):
            if direction not in counters:
                self.labels[direction].setText("no relay in this call")
                continue
            c = counters[direction]
            loss = "–" if c.rtp_loss_pct is None else f"{c.rtp_loss_pct:.1f} %"
            self.labels[direction].setText(
                f"{c.rtp_received} RTP seen, {c.rtp_dropped} dropped ({loss}), {c.dropped_queue} over the rate cap"
            )
