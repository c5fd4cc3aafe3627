"""The Network tab's "Caller conditions" group: noise, echo path, backchannels and a pause
mixed into what the next call sends (media/conditions, through ``CallSpec.conditions``), and
after the call one line of its robustness table.

Each field takes what ``voicedesk call``'s option of the same name takes, parsed by the
same code, so a bad value is the same one line here as there.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QGroupBox, QLabel, QLineEdit, QSpinBox, QWidget

from voicedesk.media.conditions import CallerVoice, Conditions, EchoSpec, InsertSpec, NoiseSpec


class ConditionsGroup(QGroupBox):
    def __init__(self, settings: Any, parent: QWidget | None = None) -> None:
        super().__init__("Caller conditions (mixed into what is sent)", parent)
        self._settings = settings
        key = "panels/network/conditions/"
        self.enabled = QCheckBox("Mix these into the next call")
        self.enabled.setChecked(bool(settings.value(key + "enabled", False)))
        self.noise = QLineEdit(str(settings.value(key + "noise", "")))
        self.noise.setPlaceholderText("babble:10  (white, pink, babble or an audio file; :SNR dB, -10…60)")
        self.echo = QLineEdit(str(settings.value(key + "echo", "")))
        self.echo.setPlaceholderText("delay_ms=200,erl_db=6[,speaker]  (the agent's audio fed back)")
        self.backchannels = QLineEdit(str(settings.value(key + "backchannels", "")))
        self.backchannels.setPlaceholderText("mm-hmm@800; cough@1500,turn=2  (ms after the agent starts speaking)")
        self.pause = QDoubleSpinBox()
        self.pause.setRange(0.0, 10_000.0)
        self.pause.setDecimals(0)
        self.pause.setSuffix(" ms")
        self.pause.setSpecialValueText("off")
        self.pause.setMaximumWidth(160)
        self.pause.setValue(float(settings.value(key + "pause_ms", 0.0)))
        self.pause.setToolTip("Each sentence of a say: or wav: source said in two halves with this much silence")
        self.voice = QLineEdit(str(settings.value(key + "voice", "")))
        self.voice.setPlaceholderText("volume_db=-25, clip_db=12, voice=en-us+f3, rate=180, pitch=70")
        self.seed = QSpinBox()
        self.seed.setRange(0, 1_000_000)
        self.seed.setMaximumWidth(160)
        self.seed.setValue(int(settings.value(key + "seed", 0)))
        self.seed.setToolTip("The same seed makes the same noise and sounds (as --conditions-seed)")
        self.result = QLabel("")
        self.result.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow(self.enabled)
        form.addRow("Noise", self.noise)
        form.addRow("Echo path", self.echo)
        form.addRow("Backchannels", self.backchannels)
        form.addRow("Pause mid-sentence", self.pause)
        form.addRow("Caller", self.voice)
        form.addRow("Seed", self.seed)
        form.addRow(self.result)
        self.enabled.toggled.connect(lambda on: settings.set_value(key + "enabled", on))
        for name, field in (
            ("noise", self.noise),
            ("echo", self.echo),
            ("backchannels", self.backchannels),
            ("voice", self.voice),
        ):
            field.editingFinished.connect(lambda n=name, f=field: settings.set_value(key + n, f.text()))
        self.pause.valueChanged.connect(lambda value: settings.set_value(key + "pause_ms", value))
        self.seed.valueChanged.connect(lambda value: settings.set_value(key + "seed", value))

    def conditions(self) -> Conditions | None:
        """What the fields ask for (None when off or empty); ``ConfigError`` in the CLI's words."""
        if not self.enabled.isChecked():
            return None
        inserts = [part.strip() for part in self.backchannels.text().split(";") if part.strip()]
        conditions = Conditions(
            noise=NoiseSpec.parse(self.noise.text()) if self.noise.text().strip() else None,
            echo=EchoSpec.parse(self.echo.text()) if self.echo.text().strip() else None,
            inserts=tuple(InsertSpec.parse(i) for i in inserts),
            pause_ms=self.pause.value() or None,
            voice=CallerVoice.parse(self.voice.text()) if self.voice.text().strip() else CallerVoice(),
            seed=self.seed.value(),
        )
        return None if conditions.empty else conditions

    def show_result(self, summary: Any) -> None:
        """One line of the finished call's robustness table (nothing for a call without conditions)."""
        robust = summary.get("robustness") if summary is not None else None
        if not robust:
            self.result.setText("")
            return
        parts = []
        for name, label in (
            ("noise_snr_db", "SNR sent {} dB"),
            ("self_interruptions", "self-interruptions {}"),
            ("false_interruptions", "false interruptions {}"),
            ("early_turn_takings", "early turn-takings {}"),
        ):
            if robust.get(name) is not None:
                parts.append(label.format(robust[name]))
        self.result.setText("Last call: " + (", ".join(parts) or "nothing measured"))
