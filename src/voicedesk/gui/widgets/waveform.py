"""Live waveforms of what is sent and what is received, with dBFS meters.

Plots pull: one timer (30 fps by default) copies the last seconds out of each
call's ring buffer (``call.tx.ring`` / ``call.rx.ring``), reduces them to a
min/max envelope of about one pair per screen pixel and calls ``setData`` once
per plot. Audio never pushes to the view, and painting stays cheap so that it
disturbs the media timing as little as it can (see docs/DESIGN.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QLinearGradient, QPainter
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from voicedesk.gui.paint_gate import PaintGate
from voicedesk.gui.theme import LIGHT, Palette
from voicedesk.gui.widgets.panel import heading
from voicedesk.media.pcm import SAMPLE_RATE, SILENCE_DBFS, dominant_frequency, level_dbfs, peak_dbfs
from voicedesk.media.sinks import AnalyzerSink

if TYPE_CHECKING:
    from voicedesk.engine.rings import RingView  # a call in the engine process: its shared-memory ring

METER_FLOOR_DBFS = -60.0
METER_WINDOW = SAMPLE_RATE // 20  # 50 ms, like a VU meter's integration time


def envelope(samples: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Min/max per column, interleaved: ``2 * columns`` points that draw like the raw signal.

    Returns (x in [0, 1), y). Fewer samples than columns are returned as they are.
    """
    n = samples.size
    if n == 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.float32)
    if columns <= 0 or n <= 2 * columns:
        return np.arange(n, dtype=np.float32) / n, samples.astype(np.float32, copy=False)
    per = n // columns
    usable = samples[n - per * columns :].reshape(columns, per)  # keep the newest samples
    y = np.empty(2 * columns, dtype=np.float32)
    y[0::2] = usable.min(axis=1)
    y[1::2] = usable.max(axis=1)
    x = np.repeat(np.arange(columns, dtype=np.float32) / columns, 2)
    return x, y


class LevelMeter(QWidget):
    """A horizontal RMS meter (-60..0 dBFS) with a peak tick; painted by hand, cheap."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rms_dbfs = SILENCE_DBFS
        self.peak_dbfs = SILENCE_DBFS
        self._palette: Palette = LIGHT
        self.setMinimumHeight(10)
        self.setMaximumHeight(10)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_palette(self, palette: Palette) -> None:
        self._palette = palette
        self.update()

    def set_levels(self, rms_dbfs: float, peak: float) -> None:
        if abs(rms_dbfs - self.rms_dbfs) > 0.05 or abs(peak - self.peak_dbfs) > 0.05:
            self.rms_dbfs, self.peak_dbfs = rms_dbfs, peak
            self.update()

    @staticmethod
    def _fraction(dbfs: float) -> float:
        return min(1.0, max(0.0, (dbfs - METER_FLOOR_DBFS) / -METER_FLOOR_DBFS))

    def paintEvent(self, event: object) -> None:
        p = QPainter(self)
        rect = QRectF(self.rect())
        p.fillRect(rect, QColor(self._palette.grid))
        width = rect.width() * self._fraction(self.rms_dbfs)
        if width > 0:
            gradient = QLinearGradient(rect.left(), 0, rect.right(), 0)
            gradient.setColorAt(0.0, QColor(self._palette.received))
            gradient.setColorAt(0.8, QColor(self._palette.busy))  # -12 dBFS
            gradient.setColorAt(1.0, QColor(self._palette.bad))
            p.fillRect(QRectF(rect.left(), rect.top(), width, rect.height()), gradient)
        peak_x = rect.left() + rect.width() * self._fraction(self.peak_dbfs)
        if self.peak_dbfs > METER_FLOOR_DBFS:
            p.fillRect(QRectF(peak_x - 1, rect.top(), 2, rect.height()), QColor(self._palette.foreground))
        p.end()


class WaveformView(QWidget):
    """One plot (sent or received), its meter and a readout of level and dominant frequency."""

    def __init__(self, title: str, color_role: str, seconds: float, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.color_role = color_role
        self.seconds = seconds
        self.sink: AnalyzerSink | RingView | None = None
        self._last_written = -1

        self.heading = heading(title)
        self.readout = QLabel("—")
        self.readout.setObjectName("readout")
        self.readout.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.meter = LevelMeter()
        self.plot = pg.PlotWidget(enableMenu=False)  # no context menu, none built at start-up
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setYRange(-1.0, 1.0, padding=0.02)
        self.plot.setXRange(-seconds, 0.0, padding=0.0)
        self.plot.getPlotItem().getAxis("left").setWidth(34)
        self.plot.getPlotItem().getAxis("left").setTicks([[(-1.0, "-1"), (0.0, "0"), (1.0, "1")]])
        # no grid: it makes the axis repaint (text) with every frame of the curve
        self.plot.setMinimumHeight(90)
        self.curve = self.plot.plot([], [], antialias=False, skipFiniteCheck=True)
        self.plot.setToolTip(
            f"{title}: the last {seconds:g} s, min/max per pixel column of the 48 kHz signal"
            + (" (what went to the encoder, silence while muted)" if color_role == "sent" else " (decoded)")
        )

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.heading)
        top.addWidget(self.meter, 1)
        top.addWidget(self.readout)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.plot, 1)

    def set_palette(self, palette: Palette) -> None:
        self.plot.setBackground(palette.plot_background)
        for name in ("left", "bottom"):
            axis = self.plot.getPlotItem().getAxis(name)
            axis.setPen(pg.mkPen(palette.grid))
            axis.setTextPen(pg.mkPen(palette.muted))
        self.curve.setPen(pg.mkPen(getattr(palette, self.color_role), width=1))
        self.meter.set_palette(palette)

    def set_seconds(self, seconds: float) -> None:
        self.seconds = seconds
        self.plot.setXRange(-seconds, 0.0, padding=0.0)
        self._last_written = -1

    def set_sink(self, sink: AnalyzerSink | RingView | None) -> None:
        self.sink = sink
        self._last_written = -1
        if sink is None:
            self.curve.setData([], [])
            self.meter.set_levels(SILENCE_DBFS, SILENCE_DBFS)
            self.readout.setText("—")

    def redraw(self) -> bool:
        """Pull and draw; False when nothing new arrived since the last draw."""
        sink = self.sink
        if sink is None or sink.ring.written == self._last_written:
            return False
        self._last_written = sink.ring.written
        samples = sink.ring.latest(int(self.seconds * SAMPLE_RATE))
        columns = max(64, int(self.plot.width()))
        x, y = envelope(samples, columns)
        span = samples.size / SAMPLE_RATE
        self.curve.setData(x * span - span, y)
        tail = samples[-METER_WINDOW:]
        self.meter.set_levels(level_dbfs(tail), peak_dbfs(tail))
        return True

    def refresh_readout(self) -> None:
        """The number labels: about once a second is plenty for a human."""
        sink = self.sink
        if sink is None:
            return
        last_second = sink.ring.latest(SAMPLE_RATE)
        level = level_dbfs(last_second)
        peak_hz = dominant_frequency(last_second)
        level_text = "silence" if level <= SILENCE_DBFS else f"{level:5.1f} dBFS"
        self.readout.setText(f"{level_text}" + (f" · {peak_hz:,.0f} Hz" if peak_hz else ""))

    def samples(self, seconds: float = 1.0) -> np.ndarray:
        """The most recent samples this view draws from (tests, the smoke test)."""
        if self.sink is None:
            return np.zeros(0, dtype=np.float32)
        return self.sink.ring.latest(int(seconds * SAMPLE_RATE))


class WaveformPanel(QWidget):
    """Sent above received, redrawn by one timer."""

    def __init__(self, seconds: float = 2.0, fps: int = 30, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sent = WaveformView("Sent", "sent", seconds)
        self.received = WaveformView("Received", "received", seconds)
        self.frames_drawn = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.sent, 1)
        layout.addWidget(self.received, 1)
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._on_tick)
        self.gate: PaintGate | None = None  # set per call by the window: paint between packets
        self._readout_timer = QTimer(self)
        self._readout_timer.setInterval(500)
        self._readout_timer.timeout.connect(self._on_readout)
        self.set_fps(fps)

    def set_fps(self, fps: int) -> None:
        self._timer.setInterval(max(10, int(1000 / max(1, fps))))

    def set_seconds(self, seconds: float) -> None:
        self.sent.set_seconds(seconds)
        self.received.set_seconds(seconds)

    def set_palette(self, palette: Palette) -> None:
        self.sent.set_palette(palette)
        self.received.set_palette(palette)

    def set_sinks(self, tx: AnalyzerSink | RingView | None, rx: AnalyzerSink | RingView | None) -> None:
        """Show a call's sinks (kept on screen after the call ends until the next one)."""
        self.sent.set_sink(tx)
        self.received.set_sink(rx)
        if tx is not None or rx is not None:
            self.start()

    def start(self) -> None:
        self._timer.start()
        self._readout_timer.start()

    def stop(self) -> None:
        """Stop pulling (the last picture stays)."""
        self._timer.stop()
        self._readout_timer.stop()
        self._on_frame()
        self._on_readout()

    def _on_tick(self) -> None:
        if self.gate is None:
            self._on_frame()
        else:
            self.gate.run(self._on_frame)

    def _on_frame(self) -> None:
        drew = self.sent.redraw()
        drew = self.received.redraw() or drew
        if drew:
            self.frames_drawn += 1

    def _on_readout(self) -> None:
        self.sent.refresh_readout()
        self.received.refresh_readout()
