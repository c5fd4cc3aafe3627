"""The dialer: where to call, with what, and the call controls (Call, Hang up, Mute, timer, state).

It holds no call logic: it emits ``dial_requested`` with a ``DialRequest`` and
the window turns that into a core ``Call``. Nothing typed here is cleared on a
failure, so the user can fix one field and press Call again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

import voicedesk.agent  # noqa: F401  (registers the agents and the embedded: dialects)
from voicedesk.agent.registry import agent_names
from voicedesk.errors import ConfigError
from voicedesk.gui.settings import DialerState
from voicedesk.gui.theme import Palette
from voicedesk.rtc.signaling import dialect_for_target, dialects, with_signaling_kind


@dataclass(frozen=True)
class SourceOption:
    """An entry of the Source list. ``spec`` returns a ``parse_source`` spec, e.g. "mic:default"."""

    key: str
    label: str
    spec: Callable[[], str] | None = None  # None: built-in kinds (tone, wav, silence) handled here


# Hook for the audio-device helper: call ``register_source(SourceOption("mic", "Microphone", lambda: "mic:default"))``
# before the window is built; registered sources are listed first and picked by default.
EXTRA_SOURCES: list[SourceOption] = []


def register_source(option: SourceOption) -> None:
    EXTRA_SOURCES[:] = [o for o in EXTRA_SOURCES if o.key != option.key] + [option]


@dataclass(frozen=True)
class DialRequest:
    target: str
    source: str  # parse_source spec
    ice_path: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 15.0
    signaling: str = ""  # "" = from the target's scheme/prefix; else a selectable dialect's kind


def signaling_labels() -> dict[str, str]:
    """The signaling list: auto first, then every dialect ``--signaling`` accepts."""
    return {"": "Signaling: auto", **{d.kind: d.label for d in dialects() if d.selectable}}


def signaling_kind(target: str, kind: str = "") -> str:
    """What the call will speak to ``target``, in words (the core picks it by scheme or prefix)."""
    target = target.strip()
    if not target:
        return "enter a target"
    try:
        target = with_signaling_kind(target, kind or None)
    except ConfigError as exc:
        return str(exc)
    try:
        dialect, _ = dialect_for_target(target)
    except ConfigError:
        return "unknown scheme: use http(s)://…, ws(s)://…, KIND+http(s)://… or embedded:AGENT"
    return dialect.help


STATE_LABELS = {
    "idle": "Idle",
    "gathering": "Gathering candidates…",
    "signaling": "Signaling…",
    "connecting": "Connecting (ICE/DTLS)…",
    "connected": "Connected",
    "ended": "Ended",
    "failed": "Failed",
}


class StateIndicator(QLabel):
    """A coloured pill with the call state."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = "idle"
        self._palette: Palette | None = None
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumWidth(150)
        self.setObjectName("stateIndicator")

    def set_palette(self, palette: Palette) -> None:
        self._palette = palette
        self.set_state(self.state)

    def set_state(self, state: str) -> None:
        self.state = state
        self.setText(STATE_LABELS.get(state, state))
        p = self._palette
        if p is None:
            return
        color = {"connected": p.ok, "failed": p.bad, "idle": p.idle, "ended": p.idle}.get(state, p.busy)
        self.setStyleSheet(
            f"QLabel#stateIndicator {{ color: white; background: {color}; border-radius: 11px;"
            " padding: 3px 12px; font-weight: 600; }"
        )


class DialerWidget(QFrame):
    dial_requested = Signal(object)  # DialRequest
    hangup_requested = Signal()
    mute_toggled = Signal(bool)
    invalid_input = Signal(str)  # a field cannot be used; one line for the user

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dialer")
        self._connected_at: float | None = None
        self._in_call = False

        self.target = QComboBox()
        self.target.setEditable(True)
        self.target.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.target.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.target.setMinimumContentsLength(14)
        self.target.lineEdit().setPlaceholderText("http://host:port/api/voice/offer  or  embedded:echo")
        self.target.setToolTip("Where to call: an agent's offer URL, or embedded:AGENT for an agent in this process")
        self.signaling = QLabel()
        self.signaling.setObjectName("hint")
        self.signaling_kind = QComboBox()
        for key, label in signaling_labels().items():
            self.signaling_kind.addItem(label, key)
        self.signaling_kind.setToolTip(
            "Which handshake the target speaks. Auto reads it from the URL (http = JSON offer/answer, "
            "ws = WebSocket, whip+http… = WHIP, …); pick one to add the prefix for you."
        )
        self.target.currentTextChanged.connect(self._describe_signaling)
        self.signaling_kind.currentIndexChanged.connect(self._describe_signaling)

        self.source_kind = QComboBox()
        for option in self._source_options():
            self.source_kind.addItem(option.label, option)
        self.tone_hz = QDoubleSpinBox()
        self.tone_hz.setRange(20.0, 20_000.0)
        self.tone_hz.setDecimals(0)
        self.tone_hz.setSuffix(" Hz")
        self.tone_hz.setValue(440.0)
        self.wav_path = QLineEdit()
        self.wav_path.setPlaceholderText("audio file (wav, mp3, ogg…)")
        wav_browse = QToolButton()
        wav_browse.setText("…")
        wav_browse.setToolTip("Choose an audio file")
        wav_browse.clicked.connect(self._browse_wav)
        wav_box = QWidget()
        wav_row = QHBoxLayout(wav_box)
        wav_row.setContentsMargins(0, 0, 0, 0)
        wav_row.addWidget(self.wav_path)
        wav_row.addWidget(wav_browse)
        self.source_args = QStackedWidget()
        self.source_args.addWidget(self.tone_hz)
        self.source_args.addWidget(wav_box)
        self.source_args.addWidget(QWidget())
        self.source_kind.currentIndexChanged.connect(self._source_kind_changed)

        self.ice_path = QLineEdit()
        self.ice_path.setPlaceholderText("none: host candidates only")
        self.ice_path.setToolTip("RTCConfiguration JSON as a browser takes it: iceServers, iceTransportPolicy")
        ice_browse = QToolButton()
        ice_browse.setText("…")
        ice_browse.setToolTip("Choose an ICE configuration (RTCConfiguration JSON)")
        ice_browse.clicked.connect(self._browse_ice)
        self.headers = QLineEdit()
        self.headers.setPlaceholderText("Authorization: Bearer …; X-Key: v (not saved)")
        self.headers.setToolTip("Extra HTTP headers for signaling, separated by ';'. Never written to disk.")

        self.call_button = QPushButton("Call")
        self.call_button.setObjectName("callButton")
        self.call_button.setDefault(True)
        self.hangup_button = QPushButton("Hang up")
        self.hangup_button.setObjectName("hangupButton")
        self.mute_button = QPushButton("Mute")
        self.mute_button.setCheckable(True)
        self.timer_label = QLabel("00:00")
        self.timer_label.setObjectName("callTimer")
        self.state = StateIndicator()
        self.reason = QLabel()
        self.reason.setObjectName("reason")
        self.reason.setWordWrap(True)
        self.reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.call_button.clicked.connect(self.request_dial)
        self.hangup_button.clicked.connect(self.hangup_requested)
        self.mute_button.toggled.connect(self._mute_toggled)
        self.target.lineEdit().returnPressed.connect(self.request_dial)

        # Rows of their own (not one grid) so that the window fits a small screen.
        row0 = QHBoxLayout()
        row0.addWidget(QLabel("Target"))
        row0.addWidget(self.target, 1)
        for w in (self.call_button, self.hangup_button, self.mute_button, self.timer_label, self.state):
            row0.addWidget(w)
        row1 = QHBoxLayout()
        row1.addWidget(QLabel("Source"))
        row1.addWidget(self.source_kind)
        row1.addWidget(self.source_args, 2)
        row1.addSpacing(8)
        row1.addWidget(QLabel("ICE"))
        row1.addWidget(self.ice_path, 2)
        row1.addWidget(ice_browse)
        row1.addSpacing(8)
        row1.addWidget(QLabel("Headers"))
        row1.addWidget(self.headers, 3)
        row2 = QHBoxLayout()
        row2.addWidget(self.signaling_kind)
        row2.addWidget(self.signaling, 1)
        row2.addWidget(self.reason, 2)
        rows = QVBoxLayout(self)
        rows.setContentsMargins(10, 8, 10, 8)
        rows.setSpacing(4)
        for row in (row0, row1, row2):
            rows.addLayout(row)

        self._clock = QTimer(self)
        self._clock.setInterval(250)
        self._clock.timeout.connect(self._tick)
        self.set_in_call(False)
        self._describe_signaling()

    # contents -----------------------------------------------------------
    @staticmethod
    def _source_options() -> list[SourceOption]:
        builtin = [
            SourceOption("tone", "Tone"),
            SourceOption("wav", "Audio file"),
            SourceOption("silence", "Silence"),
        ]
        return [*EXTRA_SOURCES, *builtin]

    def set_recent_targets(self, recent: tuple[str, ...] | list[str]) -> None:
        text = self.target.currentText()
        self.target.blockSignals(True)
        self.target.clear()
        seen: list[str] = []
        for item in [*recent, *(f"embedded:{name}" for name in agent_names())]:
            if item not in seen:
                seen.append(item)
        self.target.addItems(seen)
        self.target.setCurrentText(text)
        self.target.blockSignals(False)

    def set_target(self, target: str) -> None:
        self.target.setCurrentText(target)

    def state_to_store(self) -> DialerState:
        option = self.source_kind.currentData()
        return DialerState(
            target=self.target.currentText().strip(),
            source_kind=option.key if option else "tone",
            tone_hz=self.tone_hz.value(),
            wav_path=self.wav_path.text().strip(),
            ice_path=self.ice_path.text().strip(),
            signaling=self.signaling_kind.currentData() or "",
        )

    def restore(self, state: DialerState) -> None:
        self.target.setCurrentText(state.target)
        self.tone_hz.setValue(state.tone_hz)
        self.wav_path.setText(state.wav_path)
        self.ice_path.setText(state.ice_path)
        self.signaling_kind.setCurrentIndex(max(0, self.signaling_kind.findData(state.signaling)))
        # A registered source (the microphone) wins over the stored built-in default.
        for i in range(self.source_kind.count()):
            if self.source_kind.itemData(i).key == state.source_kind:
                self.source_kind.setCurrentIndex(i)
                break
        self._source_kind_changed()

    def source_spec(self) -> str:
        option: SourceOption = self.source_kind.currentData()
        if option.spec is not None:
            return option.spec()
        if option.key == "tone":
            return f"tone:{self.tone_hz.value():g}"
        if option.key == "wav":
            return f"wav+loop:{self.wav_path.text().strip()}"
        return "silence"

    def parse_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for part in self.headers.text().split(";"):
            if not part.strip():
                continue
            name, sep, value = part.partition(":")
            if not sep or not name.strip():
                raise ValueError(f"bad header {part.strip()!r}: use 'Name: value'")
            headers[name.strip()] = value.strip()
        return headers

    # slots ----------------------------------------------------------------
    @Slot()
    def request_dial(self) -> None:
        if self._in_call:
            return
        target = self.target.currentText().strip()
        if not target:
            self.invalid_input.emit("enter a target: an http(s):// offer URL or embedded:echo")
            return
        option: SourceOption = self.source_kind.currentData()
        if option.key == "wav" and not self.wav_path.text().strip():
            self.invalid_input.emit("choose an audio file for the source, or pick Tone or Silence")
            return
        try:
            headers = self.parse_headers()
        except ValueError as exc:
            self.invalid_input.emit(str(exc))
            return
        self.dial_requested.emit(
            DialRequest(
                target=target,
                source=self.source_spec(),
                ice_path=self.ice_path.text().strip(),
                headers=headers,
                signaling=self.signaling_kind.currentData() or "",
            )
        )

    def _describe_signaling(self, *_: object) -> None:
        self.signaling.setText(signaling_kind(self.target.currentText(), self.signaling_kind.currentData() or ""))

    def _source_kind_changed(self, *_: object) -> None:
        option: SourceOption = self.source_kind.currentData()
        key = option.key if option else "tone"
        self.source_args.setCurrentIndex({"tone": 0, "wav": 1}.get(key, 2))

    def _mute_toggled(self, muted: bool) -> None:
        self.mute_button.setText("Unmute" if muted else "Mute")
        self.mute_toggled.emit(muted)

    def _browse_wav(self) -> None:
        self._open_file_dialog(
            "Audio file to send", "Audio (*.wav *.mp3 *.ogg *.flac *.m4a);;All files (*)", self.wav_path
        )

    def _browse_ice(self) -> None:
        self._open_file_dialog("ICE configuration", "RTCConfiguration JSON (*.json);;All files (*)", self.ice_path)

    def _open_file_dialog(self, title: str, filters: str, into: QLineEdit) -> None:
        # open() rather than exec(): the event loop (and the call) keeps running.
        dialog = QFileDialog(self, title, "", filters)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(into.setText)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    # call state -----------------------------------------------------------
    def set_in_call(self, in_call: bool) -> None:
        """Enable the controls that fit; the fields stay filled either way."""
        self._in_call = in_call
        self.call_button.setEnabled(not in_call)
        self.hangup_button.setEnabled(in_call)
        self.mute_button.setEnabled(in_call)
        for w in (self.target, self.signaling_kind, self.source_kind, self.source_args, self.ice_path, self.headers):
            w.setEnabled(not in_call)
        if not in_call:
            self.mute_button.blockSignals(True)
            self.mute_button.setChecked(False)
            self.mute_button.setText("Mute")
            self.mute_button.blockSignals(False)

    def show_state(self, state: str, reason: str = "") -> None:
        self.state.set_state(state)
        if state == "connected":
            self._connected_at = time.monotonic()
            self._clock.start()
            self._tick()
        elif state in ("ended", "failed"):
            self._clock.stop()
        elif state == "gathering":
            self._connected_at = None
            self.timer_label.setText("00:00")
        self.reason.setText(reason)
        self.reason.setToolTip(reason)

    def _tick(self) -> None:
        if self._connected_at is None:
            return
        seconds = int(time.monotonic() - self._connected_at)
        h, rest = divmod(seconds, 3600)
        m, s = divmod(rest, 60)
        self.timer_label.setText(f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}")

    def stop_timers(self) -> None:
        self._clock.stop()
