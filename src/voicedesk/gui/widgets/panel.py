"""The base of every tab in the main window's panel area.

A panel is a QWidget with optional hooks. Before the window builds a call it asks
every panel ``prepare_call(spec)`` (what the panel adds to the call's ``CallSpec``:
an impairment, SDP edit hooks) and ``call_extensions()`` (what it hangs off the call:
a speaker, a report capture, as ``ExtensionRecipe``s: the call may run in the engine
process, where the panel reads them back with ``bridge.extension_view(key)``); a panel
never changes a call it did not build. The
window then calls ``call_started(bridge)`` when the call is placed (connect to the
bridge's signals there), ``call_finished(bridge)`` when it is over, and awaits
``aclose()`` when the window closes (stop timers, servers and tasks the panel owns).
See ``voicedesk/gui/README.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QLabel, QWidget

if TYPE_CHECKING:
    from voicedesk.gui.bridge import CallBridge
    from voicedesk.gui.settings import AppSettings
    from voicedesk.gui.theme import Palette
    from voicedesk.rtc.extension import CallExtension, ExtensionRecipe
    from voicedesk.rtc.spec import CallSpec


def _run_now(work: Callable[[], None]) -> None:
    work()


def _nowhere(start_s: float, end_s: float | None) -> None:
    pass


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
    # mark a moment of the call (seconds on the call's clock, to an end or not) on the graphs' timeline
    show_on_timeline: Callable[[float, float | None], None] = _nowhere
    dialed_target: Callable[[], str] = lambda: ""  # what the dialer holds now (the QA tab's runs call it)


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
        self._waiting_for_show: dict[str, Callable[[], None]] = {}

    def when_shown(self, key: str, work: Callable[[], None]) -> None:
        """Run ``work`` now if the panel is on screen, else when it is next shown.

        For views only someone looking at them needs (the SDP inspector's lint and
        summary): the call's set-up runs on the same loop, so work for a tab nobody has
        open would delay the call. A later ``work`` with the same ``key`` replaces one
        still waiting (only the latest state is worth drawing).
        """
        if self.isVisible():
            self._waiting_for_show.pop(key, None)
            work()
        else:
            self._waiting_for_show[key] = work

    def bring_up_to_date(self) -> None:
        """Run the work waiting for the panel to be shown (for code that reads its widgets)."""
        waiting, self._waiting_for_show = self._waiting_for_show, {}
        for work in waiting.values():
            work()

    def showEvent(self, event: QShowEvent) -> None:
        self.bring_up_to_date()
        super().showEvent(event)

    def prepare_call(self, spec: CallSpec) -> CallSpec:
        """The next call's spec with what this panel adds (raise ``VoiceDeskError`` to refuse it)."""
        return spec

    def call_extensions(self) -> Sequence[ExtensionRecipe | CallExtension]:
        """What this panel hangs off the next call (rtc/extension.py): recipes, built where the call
        runs (an extension object works only with ``VOICEDESK_ENGINE=inprocess``)."""
        return []

    def call_started(self, bridge: CallBridge) -> None:
        """A new call is being placed; connect to ``bridge``'s signals here."""

    def call_finished(self, bridge: CallBridge) -> None:
        """The call is over and torn down (its data can still be shown)."""

    def theme_changed(self, palette: Palette) -> None:
        """Light/dark changed; recolour anything painted by hand."""

    async def aclose(self) -> None:
        """The window is closing: stop what the panel owns (timers, servers, tasks)."""
