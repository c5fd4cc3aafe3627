"""Preferences: theme, waveform window and rate, WebRTC log detail. Non-modal; applies on OK."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QSpinBox

from voicedesk.gui.settings import Preferences
from voicedesk.gui.theme import THEME_CHOICES


class PreferencesDialog(QDialog):
    applied = Signal(object)  # Preferences

    def __init__(self, preferences: Preferences, parent: object = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.theme = QComboBox()
        for choice in THEME_CHOICES:
            self.theme.addItem({"system": "Follow the system"}.get(choice, choice.capitalize()), choice)
        self.theme.setCurrentIndex(
            max(0, THEME_CHOICES.index(preferences.theme)) if preferences.theme in THEME_CHOICES else 0
        )
        self.seconds = QDoubleSpinBox()
        self.seconds.setRange(0.5, 5.0)
        self.seconds.setSingleStep(0.5)
        self.seconds.setSuffix(" s")
        self.seconds.setValue(preferences.waveform_seconds)
        self.fps = QSpinBox()
        self.fps.setRange(10, 60)
        self.fps.setSuffix(" fps")
        self.fps.setValue(preferences.waveform_fps)
        self.fps.setToolTip("Higher rates cost CPU on the loop that also paces the outgoing audio")
        self.verbose = QCheckBox("Log aiortc/aioice details (DEBUG)")
        self.verbose.setChecked(preferences.verbose_webrtc_logs)
        form = QFormLayout(self)
        form.addRow("Appearance", self.theme)
        form.addRow("Waveform window", self.seconds)
        form.addRow("Waveform redraw", self.fps)
        form.addRow("", self.verbose)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def preferences(self) -> Preferences:
        return Preferences(
            theme=self.theme.currentData(),
            waveform_seconds=self.seconds.value(),
            waveform_fps=self.fps.value(),
            verbose_webrtc_logs=self.verbose.isChecked(),
        )

    def _accept(self) -> None:
        self.applied.emit(self.preferences())
        self.accept()
