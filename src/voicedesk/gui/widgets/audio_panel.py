"""The Audio tab: microphone and speaker pickers, the playout buffer's figures, a DTMF keypad.

Importing this module registers "Microphone" as a dialer source (spec
``mic[:DEVICE]`` with the device picked here). When a call starts with the
speaker on, the panel hands it a ``CallAudio`` (rtc/call_audio.py: the speaker opens
where the call's media runs, the engine process by default); device notices (fallbacks,
a device lost mid-call) go to the status bar. Figures refresh once a second from the
extension's view; nothing audio-side pushes into widgets.
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer, Slot
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from voicedesk.errors import VoiceDeskError
from voicedesk.gui.bridge import CallBridge
from voicedesk.gui.widgets.dialer import SourceOption, register_source
from voicedesk.gui.widgets.panel import Panel, PanelContext
from voicedesk.media.devices import AudioDevice, list_devices
from voicedesk.media.dtmf import KEYS
from voicedesk.rtc.call_audio import KEY as AUDIO
from voicedesk.rtc.call_audio import CallAudio, CallAudioView

if TYPE_CHECKING:
    from voicedesk.rtc.extension import ExtensionRecipe

logger = logging.getLogger(__name__)

REFRESH_MS = 1000
_chosen_input: list[str | None] = [None]  # the device name the Microphone source captures (None: default)
# the panel lists devices when first needed (PortAudio's start-up costs ~70 ms): this lists
# them before a call uses the chosen microphone
_list_devices_once: list[weakref.WeakMethod[Callable[[], None]]] = []

OUTPUT_KEY = "panels/audio/output"  # the speaker chosen here (the Conversation tab plays clicked words on it)


def microphone_spec() -> str:
    for ref in _list_devices_once:
        ensure = ref()
        if ensure is not None:
            with contextlib.suppress(RuntimeError):  # the panel's window is gone
                ensure()
    name = _chosen_input[0]
    return f"mic:{name}" if name else "mic"


register_source(SourceOption("mic", "Microphone", microphone_spec))


class AudioPanel(Panel):
    title = "Audio"

    def __init__(self, context: PanelContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.notices: list[str] = []  # device messages of the current call (also shown in the status bar)
        self._bridge: CallBridge | None = None

        self.input_device = QComboBox()
        self.output_device = QComboBox()
        self.refresh_button = QPushButton("Refresh devices")
        self.play_on_speaker = QCheckBox("Play received audio on the speaker")
        self.playout_ms = QSpinBox()
        self.playout_ms.setRange(0, 1000)
        self.playout_ms.setSuffix(" ms")
        self.playout_ms.setToolTip("Playout buffer target depth: more absorbs more jitter, and adds delay")
        devices_box = QGroupBox("Devices")
        form = QFormLayout(devices_box)
        form.addRow("Microphone", self.input_device)
        form.addRow("Speaker", self.output_device)
        form.addRow("", self.play_on_speaker)
        form.addRow("Playout target", self.playout_ms)
        form.addRow("", self.refresh_button)

        self.labels = {key: QLabel("–") for key in ("devices", "microphone", "speaker", "depth", "xruns", "drift")}
        figures_box = QGroupBox("Playout buffer")
        figures = QFormLayout(figures_box)
        figures.addRow("Microphone", self.labels["microphone"])
        figures.addRow("Speaker", self.labels["speaker"])
        figures.addRow("Depth", self.labels["depth"])
        figures.addRow("Underruns / overruns", self.labels["xruns"])
        figures.addRow("Drift correction", self.labels["drift"])

        keypad_box = QGroupBox("DTMF")
        keypad_layout = QVBoxLayout(keypad_box)
        # as --dtmf-mode: tones in the audio, RFC 4733 telephone-events, or events when negotiated
        self.dtmf_mode = QComboBox()
        for label, mode in (("In-band tones", "inband"), ("RFC 4733 events", "rfc4733"), ("Auto", "auto")):
            self.dtmf_mode.addItem(label, mode)
        self.dtmf_mode.setToolTip(
            "In-band: Q.23 tones mixed into the audio. RFC 4733: telephone-event packets, as browsers "
            "send them (the peer must accept telephone-event). Auto: events when accepted, else in-band."
        )
        keypad_layout.addWidget(self.dtmf_mode)
        grid = QGridLayout()
        self.keypad: dict[str, QPushButton] = {}
        for row, keys in enumerate(KEYS):
            for col, key in enumerate(keys):
                button = QPushButton(key)
                button.setFixedWidth(44)
                button.clicked.connect(lambda _=False, k=key: self.press(k))
                grid.addWidget(button, row, col)
                self.keypad[key] = button
        self.dtmf_sent = QLabel("")
        keypad_layout.addLayout(grid)
        keypad_layout.addWidget(self.dtmf_sent)

        layout = QHBoxLayout(self)
        left = QVBoxLayout()
        left.addWidget(devices_box)
        left.addWidget(self.labels["devices"])
        left.addStretch(1)
        layout.addLayout(left, 2)
        layout.addWidget(figures_box, 2)
        layout.addWidget(keypad_box, 1)

        settings = context.settings
        self.play_on_speaker.setChecked(bool(settings.value("panels/audio/speaker", False)))
        self.playout_ms.setValue(int(settings.value("panels/audio/playout_ms", 60)))
        self._stored = {
            "input": settings.value("panels/audio/input", None),
            "output": settings.value(OUTPUT_KEY, None),
        }
        self.devices_listed = False
        for combo, direction in ((self.input_device, "input"), (self.output_device, "output")):
            combo.addItem("Default device", None)
            if self._stored[direction]:  # shown as stored until the devices are listed
                combo.addItem(str(self._stored[direction]), self._stored[direction])
                combo.setCurrentIndex(1)
        _chosen_input[0] = self.input_device.currentData()
        _list_devices_once[:] = [weakref.WeakMethod(self.list_devices_once)]
        self.input_device.currentIndexChanged.connect(self._save)
        self.output_device.currentIndexChanged.connect(self._save)
        self.play_on_speaker.toggled.connect(self._save)
        self.playout_ms.valueChanged.connect(self._save)
        self.refresh_button.clicked.connect(self.refresh_devices)
        self._set_keypad_enabled(False)

        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.update_figures)

    # devices ------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        self.list_devices_once()
        super().showEvent(event)

    def list_devices_once(self) -> None:
        """List the devices unless done: when the tab opens or a call needs a device."""
        if not self.devices_listed:
            self.refresh_devices()

    @Slot()
    def refresh_devices(self) -> None:
        self.devices_listed = True
        try:
            devices = list_devices()
            problem = "" if devices else "No audio devices: is a sound server running? Calls use silence."
        except VoiceDeskError as exc:
            devices, problem = [], str(exc)
        self.labels["devices"].setText(problem)
        for combo, direction in ((self.input_device, "input"), (self.output_device, "output")):
            current = combo.currentData() if combo.count() else self._stored[direction]
            combo.blockSignals(True)
            combo.clear()
            combo.addItem("Default device", None)
            for device in devices:
                if device.has(direction):
                    combo.addItem(_label(device), device.name)
            index = combo.findData(current)
            combo.setCurrentIndex(max(index, 0))
            combo.blockSignals(False)
        _chosen_input[0] = self.input_device.currentData()

    @Slot()
    def _save(self) -> None:
        _chosen_input[0] = self.input_device.currentData()
        settings = self.context.settings
        settings.set_value("panels/audio/input", self.input_device.currentData())
        settings.set_value(OUTPUT_KEY, self.output_device.currentData())
        settings.set_value("panels/audio/speaker", self.play_on_speaker.isChecked())
        settings.set_value("panels/audio/playout_ms", self.playout_ms.value())

    # the call -----------------------------------------------------------------
    def call_extensions(self) -> list[ExtensionRecipe]:
        self.notices = []
        speaker = self.play_on_speaker.isChecked()
        if speaker:
            self.list_devices_once()  # a stored speaker that is gone falls back to the default
        return [CallAudio.recipe(speaker, self.output_device.currentData(), self.playout_ms.value())]

    def call_started(self, bridge: CallBridge) -> None:
        self._bridge = bridge
        bridge.state_changed.connect(lambda *_: self.update_figures())  # a device's notice shows with its state
        self.dtmf_sent.setText("")
        self._set_keypad_enabled(True)
        self.timer.start()
        self.update_figures()

    def call_finished(self, bridge: CallBridge) -> None:
        self._set_keypad_enabled(False)
        self.update_figures()
        self.timer.stop()

    @Slot()
    def update_figures(self) -> None:
        bridge = self._bridge
        if bridge is not None:  # keys sent, and RFC 4733 events the peer sent (rtc/call_dtmf.py)
            sent, received = bridge.call.dtmf_sent, bridge.call.keypad.decoder.tones
            parts = ([f"sent: {sent}"] if sent else []) + ([f"received: {received}"] if received else [])
            self.dtmf_sent.setText("; ".join(parts))
        view = bridge.extension_view(AUDIO) if bridge is not None else None
        if not isinstance(view, CallAudioView):
            view = CallAudioView((), None, None, None)
        for message in view.notices[len(self.notices) :]:  # new since the last look: to the status bar
            self.notices.append(message)
            self.context.show_message(message, False)
        mic = view.microphone
        if mic is None:
            self.labels["microphone"].setText("not in use")
        elif mic.using_fallback:
            self.labels["microphone"].setText("silence (no usable device)")
        else:
            self.labels["microphone"].setText(f"{mic.name or '?'} at {mic.samplerate} Hz, {mic.blocks} blocks")
        speaker, stats = view.speaker, view.playout
        if speaker is None:
            self.labels["speaker"].setText("off")
        elif speaker.using_fallback:
            self.labels["speaker"].setText("not played (no usable device)")
        else:
            self.labels["speaker"].setText(f"{speaker.name or '?'} at {speaker.samplerate} Hz")
        if stats is None:
            for key in ("depth", "xruns", "drift"):
                self.labels[key].setText("–")
            return
        self.labels["depth"].setText(f"{stats.depth_ms:.0f} ms (target {stats.target_ms:.0f} ms, {stats.state.value})")
        self.labels["xruns"].setText(f"{stats.underruns} / {stats.overruns}")
        self.labels["drift"].setText(f"dropped {stats.dropped_ms:.0f} ms, repeated {stats.inserted_ms:.0f} ms")

    # DTMF -----------------------------------------------------------------------
    def press(self, key: str) -> None:
        bridge = self.context.current_bridge()
        if bridge is None or not bridge.active:
            self.context.show_message("DTMF: place a call first", False)
            return
        try:
            sending = bridge.call.send_dtmf(key, self.dtmf_mode.currentData())
        except VoiceDeskError as exc:  # rfc4733 to a peer that did not accept telephone-event
            self.context.show_message(f"DTMF: {exc}", False)
            return
        if sending.note:
            self.context.show_message(f"DTMF: {sending.note}", False)
        self.dtmf_sent.setText(f"sent: {bridge.call.dtmf_sent}")

    def _set_keypad_enabled(self, enabled: bool) -> None:
        for button in self.keypad.values():
            button.setEnabled(enabled)

    async def aclose(self) -> None:
        self.timer.stop()


def _label(device: AudioDevice) -> str:
    return f"{device.name} ({device.hostapi}, {device.default_samplerate:g} Hz)"
