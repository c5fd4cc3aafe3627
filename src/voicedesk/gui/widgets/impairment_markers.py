"""When the impairment changed, as vertical lines on the stats graphs, so cause
(loss set to 5 % at 12 s) and effect (loss and MOS move) are seen together."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt

from voicedesk.gui.widgets.stats_plots import StatsPlots
from voicedesk.rtc.impair import ImpairmentChanged

COLOR = "#ef6c00"


class ImpairmentMarkers:
    def __init__(self, stats: StatsPlots) -> None:
        self.stats = stats
        self.markers: list[tuple[ImpairmentChanged, list[pg.InfiniteLine]]] = []

    def clear(self) -> None:
        plots = list(self.stats.plots.values())
        for _, lines in self.markers:
            for plot, line in zip(plots, lines, strict=False):
                plot.removeItem(line)
        self.markers = []

    def add(self, change: ImpairmentChanged) -> None:
        """Slot for ``CallBridge.impairment_changed``."""
        if change.t_ms is None:
            return
        pen = pg.mkPen(COLOR, width=1.5, style=Qt.PenStyle.DashDotLine)
        text = f"impairment: {change.spec.describe()}"
        lines = []
        for i, plot in enumerate(self.stats.plots.values()):
            options = {"position": 0.75, "color": COLOR, "rotateAxis": (1, 0)} if i == 0 else None
            line = pg.InfiniteLine(
                pos=change.t_ms / 1000.0,
                angle=90,
                movable=False,
                pen=pen,
                label="impairment" if i == 0 else None,
                labelOpts=options,
            )
            line.setToolTip(text)
            plot.addItem(line, ignoreBounds=True)
            lines.append(line)
        self.markers.append((change, lines))

    @property
    def positions_s(self) -> list[float]:
        return [float(lines[0].value()) for _, lines in self.markers if lines]
