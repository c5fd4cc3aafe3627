"""The base of every tab in the main window's panel area.

A panel is a QWidget with three optional hooks. The window calls
``call_started(bridge)`` when a call is placed (connect to the bridge's signals
there), ``call_finished(bridge)`` when it is over, and awaits ``aclose()`` when the
window closes (stop timers, servers and tasks the panel owns). See
``voicedesk/gui/README.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QLabel, QWidget

if TYPE_CHECKING:
    from voicedesk.gui.bridge import CallBridge
    from voicedesk.gui.settings import AppSettings
    from voicedesk.gui.theme import Palette


def _run_now(work: Callable[[], None]) -> None:
    work()


@dataclass(frozen=True)
class PanelContext:
    """What the window lends a panel."""

    settings: AppSettings
    palette: Callable[[], Palette]  # the current plot palette (changes with the theme)
    show_message: Callable[[str, bool], None]  # (text, is_error): status bar, banner for errors
    set_target: Callable[[str], None]  # put a target into the dialer (e.g. a server's offer URL)
    current_bridge: Callable[[], CallBridge | None]  # the call on screen, if any
    # run repaint-heavy work between outgoing packets during a call (see gui/paint_gate.py)
    paint: Callable[[Callable[[], None]], None] = _run_now


def heading(text: str) -> QLabel:
    """A bold label that heads a part of a panel."""
    label = QLabel(text)
    label.setObjectName("panelHeading")
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


class Panel(QWidget):
    title = "Panel"

    def __init__(self, context: PanelContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context

    def call_started(self, bridge: CallBridge) -> None:
        """A new call is being placed; connect to ``bridge``'s signals here."""

    def call_finished(self, bridge: CallBridge) -> None:
        """The call is over and torn down (its data can still be shown)."""

    def theme_changed(self, palette: Palette) -> None:
        """Light/dark changed; recolour anything painted by hand."""

    async def aclose(self) -> None:
        """The window is closing: stop what the panel owns (timers, servers, tasks)."""
