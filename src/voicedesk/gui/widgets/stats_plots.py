"""Live getStats graphs for the whole call: RTT, jitter, loss, bitrate in and out.

Fed by ``StatsSampled`` events (about one a second). A field that aiortc did not
report is None and plots as a gap (NaN with ``connect="finite"``), never as 0.
Each series' tooltip says where its number comes from (``FIELD_SOURCES``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from voicedesk.gui.theme import LIGHT, Palette
from voicedesk.rtc.stats import FIELD_SOURCES, StatsSample


@dataclass(frozen=True)
class Series:
    field: str  # StatsSample attribute
    label: str  # legend and value label
    color_index: int


@dataclass(frozen=True)
class Graph:
    key: str
    title: str
    unit: str
    series: tuple[Series, ...]
    digits: int = 1


GRAPHS: tuple[Graph, ...] = (
    Graph("rtt", "RTT", "ms", (Series("rtt_ms", "RTT", 0),)),
    Graph(
        "jitter",
        "Jitter",
        "ms",
        (Series("jitter_ms", "in", 4), Series("remote_jitter_ms", "out (peer)", 0)),
    ),
    Graph(
        "loss",
        "Loss",
        "%",
        (Series("loss_pct", "in", 1), Series("remote_loss_pct", "out (peer)", 2)),
        digits=2,
    ),
    Graph(
        "bitrate",
        "Bitrate",
        "kbit/s",
        (Series("bitrate_in_kbps", "in", 4), Series("bitrate_out_kbps", "out", 0)),
        digits=0,
    ),
)


def nice_ceiling(value: float) -> float:
    """The next 1/2/5 × 10^n at or above ``value`` (at least 1), so ranges change rarely."""
    if not math.isfinite(value) or value <= 1.0:
        return 1.0
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * exponent:
            return float(step * exponent)
    return float(10 * exponent)


def time_ceiling(seconds: float) -> float:
    """The x range end: the next whole 30 s (then 5 min steps past 10 min)."""
    step = 30.0 if seconds < 600 else 300.0
    return max(step, math.ceil((seconds + 0.5) / step) * step)


def field_value(sample: StatsSample, field: str) -> float:
    value = getattr(sample, field, None)
    return float("nan") if value is None else float(value)


class StatsPlots(QWidget):
    """Four stacked graphs with linked time axes and a row of current values."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.samples: list[StatsSample] = []
        self._palette: Palette = LIGHT
        self.layout_widget = pg.GraphicsLayoutWidget()
        self.layout_widget.ci.setSpacing(2)
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.value_labels: dict[str, QLabel] = {}

        values = QGridLayout()
        values.setContentsMargins(0, 0, 0, 0)
        values.setHorizontalSpacing(14)
        first: pg.PlotItem | None = None
        self.graph_labels: dict[str, QLabel] = {}
        for row, graph in enumerate(GRAPHS):
            # enableMenu=False: no context menus (and no cost building them at start-up)
            plot = self.layout_widget.addPlot(row=row, col=0, enableMenu=False)
            plot.setMouseEnabled(x=False, y=False)
            plot.hideButtons()
            # no grid: a grid makes the axes cover the plot, and every curve update then
            # repaints them (their text is the costliest thing on screen)
            plot.getAxis("left").setWidth(44)
            plot.setLabel("left", f"{graph.title} ({graph.unit})")
            plot.getAxis("left").enableAutoSIPrefix(False)
            plot.disableAutoRange()  # ranges grow in steps: see _set_range
            if row < len(GRAPHS) - 1:
                plot.getAxis("bottom").setStyle(showValues=False)
            else:
                plot.setLabel("bottom", "call time", units="s")
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            if len(graph.series) > 1:
                plot.addLegend(offset=(-4, 2), labelTextSize="8pt", verSpacing=-6)
            self.plots[graph.key] = plot
            sources = "\n".join(f"{s.label}: {FIELD_SOURCES.get(s.field, s.field)}" for s in graph.series)
            tip = f"{graph.title}\n{sources}\nA gap means aiortc did not report the field (e.g. no RTCP report yet)."
            plot.setToolTip(tip)
            label = QLabel()
            label.setObjectName("statValue")
            label.setToolTip(tip)
            label.setTextFormat(Qt.TextFormat.RichText)
            self.graph_labels[graph.key] = label
            values.addWidget(label, 0, row)
            values.setColumnStretch(row, 1)
            for series in graph.series:
                curve = plot.plot([], [], name=series.label, connect="finite", antialias=False)
                self.curves[series.field] = curve
                self.value_labels[series.field] = label

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(values)
        layout.addWidget(self.layout_widget, 1)
        self.clear()

    @property
    def point_count(self) -> int:
        """Samples plotted so far in this call."""
        return len(self.samples)

    def finite_points(self, field: str) -> int:
        return sum(1 for s in self.samples if getattr(s, field, None) is not None)

    def set_palette(self, palette: Palette) -> None:
        self._palette = palette
        self.layout_widget.setBackground(palette.plot_background)
        for graph in GRAPHS:
            plot = self.plots[graph.key]
            for name in ("left", "bottom"):
                plot.getAxis(name).setPen(pg.mkPen(palette.grid))
                plot.getAxis(name).setTextPen(pg.mkPen(palette.muted))
            for series in graph.series:
                color = palette.series[series.color_index % len(palette.series)]
                self.curves[series.field].setPen(pg.mkPen(color, width=1.6))
            if plot.legend is not None:
                plot.legend.setLabelTextColor(palette.foreground)
                background = pg.mkColor(palette.plot_background)
                background.setAlpha(200)
                plot.legend.setBrush(pg.mkBrush(background))
        self._update_labels()

    def clear(self) -> None:
        self.samples = []
        self._ranges: dict[tuple[str, str], float] = {}
        for graph in GRAPHS:
            self._set_range(graph.key, "y", 1.0)
        self._set_range(GRAPHS[0].key, "x", time_ceiling(0.0))
        for curve in self.curves.values():
            curve.setData([], [])
        self._update_labels()

    def add_sample(self, sample: StatsSample) -> None:
        self.samples.append(sample)
        t = np.fromiter((s.t_ms / 1000.0 for s in self.samples), dtype=np.float64, count=len(self.samples))
        for graph in GRAPHS:
            top = 0.0
            for series in graph.series:
                y = np.fromiter(
                    (field_value(s, series.field) for s in self.samples), dtype=np.float64, count=len(self.samples)
                )
                curve = self.curves[series.field]
                finite = np.isfinite(y)
                if finite.any():
                    curve.setData(t, y, connect="finite")
                    top = max(top, float(y[finite].max()))
                else:
                    curve.setData([], [])
            self._set_range(graph.key, "y", nice_ceiling(top))
        self._set_range(GRAPHS[0].key, "x", time_ceiling(t[-1] if t.size else 0.0))
        self._update_labels()

    def _set_range(self, key: str, axis: str, top: float) -> None:
        """Change an axis range only when it must grow (or the call restarts).

        Autoranging every second regenerates every axis' ticks and text, which cost
        tens of milliseconds per update on the loop that also paces the audio.
        """
        if self._ranges.get((key, axis)) == top:
            return
        self._ranges[(key, axis)] = top
        plot = self.plots[key]
        if axis == "y":
            plot.setYRange(0.0, top, padding=0.02)
        else:
            plot.setXRange(0.0, top, padding=0.0)

    def _update_labels(self) -> None:
        latest = self.samples[-1] if self.samples else None
        p = self._palette
        for graph in GRAPHS:
            parts = []
            for series in graph.series:
                value = None if latest is None else getattr(latest, series.field, None)
                if value is None or (isinstance(value, float) and math.isnan(value)):
                    text = "n/a"
                else:
                    text = f"{value:.{graph.digits}f}"
                color = p.series[series.color_index % len(p.series)]
                name = "" if len(graph.series) == 1 else f"<span style='color:{p.muted}'>{series.label} </span>"
                parts.append(f"{name}<b style='color:{color}'>{text}</b>")
            self.graph_labels[graph.key].setText(
                f"<span style='color:{p.muted}'>{graph.title} ({graph.unit})</span><br>"
                f"<span style='font-size:12pt'>{' &nbsp; '.join(parts)}</span>"
            )
