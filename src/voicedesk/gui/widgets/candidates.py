"""Local and remote ICE candidates, read from the descriptions as they are applied.

aiortc gathers every candidate before the offer leaves (no trickle out), so the
SDPs hold the full lists.
"""

from __future__ import annotations

from PySide6.QtWidgets import QHeaderView, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from voicedesk.gui.bridge import CallBridge
from voicedesk.gui.widgets.panel import Panel, PanelContext
from voicedesk.rtc.sdp.model import sdp_candidates

COLUMNS = ("side", "type", "protocol", "address", "port", "priority", "related", "foundation", "component")


def parse_candidates(sdp: str) -> list[dict[str, str]]:
    """The ``a=candidate`` lines of an SDP as dicts (W3C names; unknown extensions ignored)."""
    found = []
    for c in sdp_candidates(sdp):
        cand = {
            "foundation": c.foundation,
            "component": str(c.component),
            "protocol": c.transport,
            "priority": str(c.priority),
            "address": c.address,
            "port": str(c.port),
            "type": c.type,
        }
        if c.related_address is not None:
            cand["related"] = f"{c.related_address}:{'' if c.related_port is None else c.related_port}"
        found.append(cand)
    return found


class CandidatesPanel(Panel):
    title = "Candidates"

    def __init__(self, context: PanelContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.summary = QLabel("Candidates appear when the call is placed.")
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels([c.capitalize() for c in COLUMNS])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSortingEnabled(True)
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree, 1)
        self.counts = {"local": 0, "remote": 0}

    def call_started(self, bridge: CallBridge) -> None:
        self.tree.clear()
        self.counts = {"local": 0, "remote": 0}
        self.summary.setText("Gathering…")
        bridge.description_set.connect(self.show_description)

    def show_description(self, side: str, kind: str, sdp: str) -> None:
        candidates = parse_candidates(sdp)
        self.counts[side] = len(candidates)
        for cand in candidates:
            item = QTreeWidgetItem([side if c == "side" else cand.get(c, "") for c in COLUMNS])
            self.tree.addTopLevelItem(item)
        self.summary.setText(f"{self.counts['local']} local, {self.counts['remote']} remote candidates")
