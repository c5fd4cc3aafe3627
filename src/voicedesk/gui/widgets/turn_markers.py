"""Turn events as vertical markers on the stats graphs' time axis.

Caller speech start/end, final transcript, first agent audio and barge-in are
drawn on the same axis as jitter, RTT and loss, so "was that 900 ms the network or
the agent?" is answered by looking.

Agent events carry the agent's clock (``t_ms``) and the call's arrival clock
(``received_ms``); the offset between the two is estimated as the smallest
``received_ms - t_ms`` seen (the least-delayed event), and markers are placed at
the agent's time plus that offset.

``select`` draws a band across the graphs for one moment of the call (a row clicked in
the Conversation tab), on the call's own axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt

from voicedesk.gui.widgets.stats_plots import StatsPlots

MAX_MARKERS = 300
SELECTION_COLOR = (255, 193, 7, 60)  # amber, see-through
SELECTION_MIN_S = 0.15  # a moment without an end still shows as a visible band


@dataclass(frozen=True)
class MarkerStyle:
    label: str
    color: str
    dash: bool = False


STYLES: dict[str, MarkerStyle] = {
    "speech_started": MarkerStyle("caller", "#2e7d32"),
    "speech_stopped": MarkerStyle("caller end", "#2e7d32", dash=True),
    "transcript_final": MarkerStyle("transcript", "#6a1b9a", dash=True),
    "audio_out_started": MarkerStyle("agent audio", "#1565c0"),
    "barge_in": MarkerStyle("barge-in", "#c62828"),
}


def marker_kind(event: dict[str, Any]) -> str | None:
    kind = event.get("type")
    if kind == "transcript":
        return "transcript_final" if event.get("final") else None
    return kind if kind in STYLES else None


def marker_time_ms(event: dict[str, Any]) -> float | None:
    """When the marked thing happened, on the agent's clock."""
    if event.get("type") == "speech_started" and event.get("onset_ms") is not None:
        return float(event["onset_ms"])
    if event.get("type") == "speech_stopped" and event.get("speech_ended_ms") is not None:
        return float(event["speech_ended_ms"])
    value = event.get("t_ms")
    return None if value is None else float(value)


class TurnMarkers:
    def __init__(self, stats: StatsPlots) -> None:
        self.stats = stats
        self.offset_ms: float | None = None
        self.markers: list[tuple[str, float, list[pg.InfiniteLine]]] = []  # (kind, agent t_ms, lines)
        self._selection: list[pg.LinearRegionItem] = []  # one band per graph: the turn picked in the conversation

    def clear(self) -> None:
        plots = list(self.stats.plots.values())
        for _, _, lines in self.markers:
            for plot, line in zip(plots, lines, strict=False):
                plot.removeItem(line)
        self.markers = []
        self.offset_ms = None
        for plot, region in zip(plots, self._selection, strict=False):
            plot.removeItem(region)
        self._selection = []

    def select(self, start_s: float, end_s: float | None = None) -> None:
        """Show one moment of the call (a turn the user clicked) as a band across the graphs,
        from ``start_s`` to ``end_s`` on the call's axis (a thin band where it has no end). The
        graphs span the whole call, so the band is always in view."""
        end = max(end_s if end_s is not None else start_s, start_s + SELECTION_MIN_S)
        if not self._selection:
            brush = pg.mkBrush(SELECTION_COLOR)
            for plot in self.stats.plots.values():
                region = pg.LinearRegionItem((start_s, end), movable=False, brush=brush, pen=pg.mkPen(None))
                region.setZValue(-10)  # under the curves
                plot.addItem(region, ignoreBounds=True)
                self._selection.append(region)
        for region in self._selection:
            region.setRegion((start_s, end))

    @property
    def selected_s(self) -> tuple[float, float] | None:
        """The band shown by ``select`` (seconds on the call's axis), if any."""
        if not self._selection:
            return None
        low, high = self._selection[0].getRegion()
        return float(low), float(high)

    def add_event(self, received: Any) -> None:
        """Slot for ``CallBridge.agent_event``."""
        event = received.event
        if event.get("t_ms") is not None and event.get("received_ms") is not None:
            offset = float(event["received_ms"]) - float(event["t_ms"])
            if self.offset_ms is None or offset < self.offset_ms:
                self.offset_ms = offset
                self._replace()
        kind = marker_kind(event)
        at = marker_time_ms(event)
        if kind is None or at is None or len(self.markers) >= MAX_MARKERS:
            return
        style = STYLES[kind]
        pen = pg.mkPen(style.color, width=1.2, style=Qt.PenStyle.DashLine if style.dash else Qt.PenStyle.SolidLine)
        lines = []
        for i, plot in enumerate(self.stats.plots.values()):
            # the label once, on the top graph
            options = {"position": 0.92, "color": style.color, "rotateAxis": (1, 0)} if i == 0 else None
            line = pg.InfiniteLine(
                angle=90, movable=False, pen=pen, label=style.label if i == 0 else None, labelOpts=options
            )
            line.setToolTip(f"{style.label} (turn {event.get('turn')})")
            plot.addItem(line, ignoreBounds=True)
            lines.append(line)
        self.markers.append((kind, at, lines))
        self._place(at, lines)

    def _place(self, at_ms: float, lines: list[pg.InfiniteLine]) -> None:
        seconds = (at_ms + (self.offset_ms or 0.0)) / 1000.0
        for line in lines:
            line.setValue(seconds)

    def _replace(self) -> None:
        for _, at, lines in self.markers:
            self._place(at, lines)

    @property
    def positions_s(self) -> list[tuple[str, float]]:
        """(kind, seconds on the call's axis) of every marker (tests, exports)."""
        return [(kind, float(lines[0].value())) for kind, _, lines in self.markers if lines]
