"""The main window: dialer on top, waveforms and stats graphs, panels in tabs below.

It is a view. A dial request becomes one call wrapped in one ``CallBridge``: by
default a ``RemoteCall`` whose ``Call`` runs in the window's engine process
(voicedesk/engine/: the media never waits for painting), or with
``VOICEDESK_ENGINE=inprocess`` a core ``Call`` on the window's own loop (painting then
goes between packets, gui/paint_gate.py). The window, the plots and every panel listen
to the bridge's signals. Panels are listed in ``voicedesk.gui.tabs`` (one line each).
Closing the window hangs up, lets every panel stop what it owns, saves the
settings, and only then really closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from voicedesk import __version__
from voicedesk.config import resolve_ice
from voicedesk.engine import engine_mode
from voicedesk.errors import ConfigError, VoiceDeskError
from voicedesk.gui.bridge import CallBridge
from voicedesk.gui.paint_gate import PaintGate
from voicedesk.gui.settings import AppSettings, Preferences
from voicedesk.gui.tabs import PANELS, PanelSpec
from voicedesk.gui.theme import Palette, apply_scheme
from voicedesk.gui.widgets.dialer import DialerWidget, DialRequest
from voicedesk.gui.widgets.impairment_markers import ImpairmentMarkers
from voicedesk.gui.widgets.panel import Panel, PanelContext
from voicedesk.gui.widgets.preferences import PreferencesDialog
from voicedesk.gui.widgets.stats_plots import StatsPlots
from voicedesk.gui.widgets.turn_markers import TurnMarkers
from voicedesk.gui.widgets.waveform import WaveformPanel
from voicedesk.rtc.call import Call, describe_setup
from voicedesk.rtc.liveness import MediaLost, MediaResumed
from voicedesk.tasks import TaskOwner

if TYPE_CHECKING:
    from voicedesk.engine.client import EngineProcess, RemoteCall
    from voicedesk.rtc.extension import CallExtension, ExtensionRecipe
    from voicedesk.rtc.spec import CallSpec

logger = logging.getLogger(__name__)

PANEL_CLOSE_TIMEOUT = 10.0
STATUS_TIMEOUT_MS = 10_000


def shortcut(standard: QKeySequence.StandardKey | None, fallback: str) -> list[QKeySequence]:
    """The platform's standard key if it has one, else ``fallback`` (Linux has no Preferences key)."""
    keys = QKeySequence.keyBindings(standard) if standard is not None else []
    return list(keys) if keys else [QKeySequence(fallback)]


class ErrorBanner(QFrame):
    """A one-line error under the dialer; stays until dismissed or the next call."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorBanner")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.hide()

    def show_text(self, text: str) -> None:
        self.label.setText(text)
        self.show()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""


class MainWindow(QMainWindow):
    shut_down = Signal()  # emitted once the window has closed in order

    def __init__(
        self,
        settings: AppSettings | None = None,
        parent: QWidget | None = None,
        engine: str | None = None,
        engine_process: EngineProcess | None = None,
    ) -> None:
        super().__init__(parent)
        try:
            self.engine_mode = engine_mode(engine)  # process (default) or inprocess
        except ConfigError as exc:
            logger.warning("%s; using the engine process", exc)
            self.engine_mode = "process"
        # the engine process, once started; one handed in (tests share one) is not the window's to close
        self.engine: EngineProcess | None = engine_process
        self._owns_engine = engine_process is None
        self.settings = settings or AppSettings()
        stored = self.settings.load()
        self.preferences: Preferences = stored.preferences
        self.palette_: Palette = apply_scheme(self.preferences.theme)
        self.bridge: CallBridge | None = None  # the call on screen (kept after it ends)
        self.paint_gate: PaintGate | None = None
        self._panels_started: CallBridge | None = None  # the call whose call_started the panels had
        self._tasks = TaskOwner(logger=logger, failed="%s failed")
        self._shutting_down = False
        self._shut_down = False
        self._preferences_dialog: PreferencesDialog | None = None

        self.setWindowTitle("VoiceDesk")
        self.setObjectName("mainWindow")
        self.dialer = DialerWidget()
        self.dialer.set_recent_targets(stored.recent_targets)
        self.dialer.restore(stored.dialer)
        self.banner = ErrorBanner()
        self.waveforms = WaveformPanel(self.preferences.waveform_seconds, self.preferences.waveform_fps)
        self.stats = StatsPlots()
        self.turn_markers = TurnMarkers(self.stats)  # agent turn events on the stats time axis
        self.impairment_markers = ImpairmentMarkers(self.stats)  # impairment changes on the same axis
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.panels: dict[str, Panel] = {}
        self._build_panels(PANELS)

        graphs = QSplitter(Qt.Orientation.Horizontal)
        self.cards = (_boxed(self.waveforms), _boxed(self.stats))
        for card in self.cards:
            graphs.addWidget(card)
        graphs.setStretchFactor(0, 1)
        graphs.setStretchFactor(1, 1)
        graphs.setSizes([640, 560])  # initial split; stretch factors apply on resize only
        self.graphs_splitter = graphs
        self.main_splitter = QSplitter(Qt.Orientation.Vertical)
        self.main_splitter.setObjectName("mainSplitter")
        self.main_splitter.addWidget(graphs)
        self.main_splitter.addWidget(self.tabs)
        self.main_splitter.setStretchFactor(0, 3)
        self.main_splitter.setStretchFactor(1, 2)
        self.main_splitter.setSizes([480, 300])
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 8, 8, 4)
        layout.setSpacing(6)
        layout.addWidget(self.dialer)
        layout.addWidget(self.banner)
        layout.addWidget(self.main_splitter, 1)
        self.setCentralWidget(central)

        self.call_info = QLabel()
        self.statusBar().addPermanentWidget(self.call_info)
        self.statusBar().showMessage("Ready. Pick a target and press Call (Ctrl+Return).")

        self.dialer.dial_requested.connect(self.dial)
        self.dialer.hangup_requested.connect(self.hang_up)
        self.dialer.mute_toggled.connect(self._set_muted)
        self.dialer.invalid_input.connect(lambda text: self.show_message(text, True))
        self._build_actions()
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._system_scheme_changed)
        self.apply_palette(self.palette_)

        self.resize(1360, 860)
        geometry, state = self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        splitter_state = self.settings.value("window/splitter")
        if isinstance(splitter_state, str):
            self.main_splitter.restoreState(QByteArray.fromBase64(splitter_state.encode()))

    # panels ---------------------------------------------------------------
    def _build_panels(self, specs: list[PanelSpec]) -> None:
        context = PanelContext(
            settings=self.settings,
            palette=lambda: self.palette_,
            show_message=self.show_message,
            set_target=self.dialer.set_target,
            current_bridge=lambda: self.bridge,
            paint=self._paint,
            show_on_timeline=self.turn_markers.select,
            dialed_target=lambda: self.dialer.target.currentText().strip(),
        )
        for spec in specs:
            try:
                module_name, _, class_name = spec.factory.partition(":")
                cls = getattr(importlib.import_module(module_name), class_name)
                panel = cls(context)
            except Exception as exc:  # one broken panel must not take the window down
                logger.exception("panel %s could not be loaded", spec.key)
                broken = QLabel(f"This panel could not be loaded: {type(exc).__name__}: {exc}")
                broken.setWordWrap(True)
                broken.setAlignment(Qt.AlignmentFlag.AlignCenter)
                self.tabs.addTab(broken, spec.title)
                continue
            self.panels[spec.key] = panel
            # A scroll area keeps one panel's minimum size from forcing the whole window
            # larger than a laptop screen.
            scroll = QScrollArea()
            scroll.setWidget(panel)
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QFrame.Shape.NoFrame)
            self.tabs.addTab(scroll, spec.title)

    def panel(self, key: str) -> Panel | None:
        return self.panels.get(key)

    # actions --------------------------------------------------------------
    def _build_actions(self) -> None:
        def action(text: str, keys: list[QKeySequence], slot: Any, tip: str = "") -> QAction:
            act = QAction(text, self)
            act.setShortcuts(keys)
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            act.triggered.connect(slot)
            act.setStatusTip(tip)
            self.addAction(act)
            return act

        self.dial_action = action(
            "&Call",
            [QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")],
            self.dialer.request_dial,
            "Call the target",
        )
        self.hangup_action = action("&Hang up", [QKeySequence("Ctrl+H")], self.hang_up, "End the call")
        self.mute_action = action(
            "&Mute", [QKeySequence("Ctrl+M")], self._toggle_mute, "Send silence instead of the source"
        )
        self.preferences_action = action(
            "&Preferences…", shortcut(QKeySequence.StandardKey.Preferences, "Ctrl+,"), self.show_preferences
        )
        self.quit_action = action("&Quit", shortcut(QKeySequence.StandardKey.Quit, "Ctrl+Q"), self.close)
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.preferences_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        menu = self.menuBar().addMenu("&Call")
        for act in (self.dial_action, self.hangup_action, self.mute_action):
            menu.addAction(act)
        menu.addSeparator()
        menu.addAction(self.preferences_action)
        menu.addSeparator()
        menu.addAction(self.quit_action)
        view = self.menuBar().addMenu("&View")
        for i in range(self.tabs.count()):
            title = self.tabs.tabText(i)
            act = QAction(title, self)
            if i < 9:
                act.setShortcut(QKeySequence(f"Alt+{i + 1}"))
            act.triggered.connect(lambda _=False, index=i: self.tabs.setCurrentIndex(index))
            view.addAction(act)
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("About VoiceDesk", self)
        about.triggered.connect(
            lambda: self.show_message(f"VoiceDesk {__version__} · settings in {self.settings.path}", False)
        )
        help_menu.addAction(about)

    # messages -------------------------------------------------------------
    def show_message(self, text: str, error: bool = False) -> None:
        """Errors go to the banner and the status bar; other news to the status bar."""
        if error:
            self.banner.show_text(text)
            self.statusBar().showMessage(text)
            logger.warning("%s", text)
        else:
            self.statusBar().showMessage(text, STATUS_TIMEOUT_MS)

    # the call ---------------------------------------------------------------
    def dial(self, request: DialRequest) -> None:
        """Place a call; errors end up on screen, the dialer keeps what was typed."""
        if self._shutting_down or (self.bridge is not None and self.bridge.active):
            return
        from voicedesk.rtc.spec import CallSpec  # with the first call, not the first screen

        self.banner.hide()
        recipes: list[ExtensionRecipe | CallExtension] = []
        extensions: dict[str, CallExtension] = {}
        try:
            ice = resolve_ice(request.ice_path)  # a JSON file or a preset name (ICE lab tab)
            spec = CallSpec(
                request.target,
                signaling=request.signaling or None,
                source=request.source,
                ice=ice,
                timeout=request.timeout_s,
                headers=request.headers,
            )
            # what the tabs add: the Network tab's impairment, the SDP tab's edit hooks, the
            # Audio tab's speaker, the QA tab's report capture
            for key, panel in self.panels.items():
                spec, added = _prepared_by(panel, key, spec)
                recipes += added
            call: Call | RemoteCall
            if self.engine_mode == "process":
                from voicedesk.engine.client import RemoteCall

                call = RemoteCall(self.start_engine(), spec, _recipes_only(recipes))
            else:
                extensions = _built(recipes)
                call = Call.from_spec(spec, extensions=list(extensions.values()))
        except VoiceDeskError as exc:
            for extension in extensions.values():  # a speaker opened for a call that was never built
                self._tasks.spawn(extension.detach(), f"{type(extension).__name__}.detach")
            self.dialer.show_state("failed", str(exc))
            self.show_message(str(exc), True)
            return
        for warning in ice.warnings:
            self.show_message(f"ICE configuration: {warning}", False)

        self.settings.save_dialer(self.dialer.state_to_store())
        self.dialer.set_recent_targets(self.settings.remember_target(request.target))
        if self.bridge is not None:
            _close_rings(self.bridge)  # the last call's waveforms go now
            self.bridge.deleteLater()
        bridge = self.bridge = CallBridge(call, self, extensions)
        bridge.state_changed.connect(self._on_state)
        bridge.failed.connect(self._on_failed)
        bridge.notice.connect(lambda text: self.show_message(text, True))
        if not isinstance(call, Call):  # the media runs in the engine process: painting cannot delay it
            self.paint_gate = self.waveforms.gate = None
            bridge.stats_sampled.connect(self.stats.add_sample)
        else:
            # Paint between packets, sent and received (see paint_gate.py); a new gate per call.
            gate = self.paint_gate = PaintGate()
            gate.attach(call.add_sent_observer)
            gate.attach_received(call.add_sink)
            self.waveforms.gate = gate
            bridge.stats_sampled.connect(lambda sample: gate.run(functools.partial(self.stats.add_sample, sample)))
        bridge.agent_event.connect(self.turn_markers.add_event)
        bridge.impairment_changed.connect(self.impairment_markers.add)
        bridge.media_changed.connect(self._on_media_changed)
        bridge.finished.connect(lambda: self._on_finished(bridge))
        self.stats.clear()
        self.turn_markers.clear()
        self.impairment_markers.clear()
        self.waveforms.set_sinks(call.tx, call.rx)
        self.dialer.set_in_call(True)
        self.dialer.show_state("idle")
        self.call_info.setText(call.target)
        if bridge.remote:  # the panels read what the call is (its agent events…) once the engine built it
            bridge.opened.connect(lambda: self._start_panels(bridge))
        else:
            self._start_panels(bridge)
        bridge.start()

    def _start_panels(self, bridge: CallBridge) -> None:
        """Every panel's ``call_started``, once per call."""
        if bridge is not self.bridge or self._panels_started is bridge:
            return
        self._panels_started = bridge
        for panel in self.panels.values():
            _guard(lambda p=panel: p.call_started(bridge), f"{type(panel).__name__}.call_started")

    def start_engine(self) -> EngineProcess:
        """The engine process, started now if it is not running (a crashed one is replaced)."""
        from voicedesk.engine.client import EngineProcess

        if self.engine is None:
            self.engine = EngineProcess()
        self.engine.start()
        return self.engine

    def prestart_engine(self) -> None:
        """Start the engine process while the user looks at the window, so the first call does not
        wait for its imports (nothing in inprocess mode)."""
        if self.engine_mode == "process" and not self._shutting_down:
            try:
                self.start_engine()
            except Exception as exc:  # the first call will say it again, worded
                logger.warning("the engine process could not be started: %s", exc)

    def hang_up(self) -> None:
        if self.bridge is not None and self.bridge.active:
            self.dialer.hangup_button.setEnabled(False)
            self._tasks.spawn(self.bridge.hangup(), "MainWindow.hang_up")

    def _paint(self, work: Any) -> None:
        """Run ``work`` between outgoing packets while a call is on, else now."""
        gate = self.paint_gate
        if gate is None:
            work()
        else:
            gate.run(work)

    def _toggle_mute(self) -> None:
        if self.dialer.mute_button.isEnabled():  # the shortcut works only during a call, like the button
            self.dialer.mute_button.toggle()

    def _set_muted(self, muted: bool) -> None:
        if self.bridge is not None and self.bridge.active:
            self.bridge.call.muted = muted
            self.statusBar().showMessage("Muted: sending silence" if muted else "Unmuted", STATUS_TIMEOUT_MS)

    def _on_state(self, state: str, reason: str) -> None:
        self.dialer.show_state(state, reason)
        if self.bridge is not None:  # the task bar tells what the call is doing
            self.setWindowTitle(f"VoiceDesk — {self.bridge.call.target} · {state}")
        if state == "connected" and self.bridge is not None:
            call = self.bridge.call
            self.statusBar().showMessage(
                f"Connected to {call.signaling.description} in {describe_setup(call.setup_ms, call.setup_phases)}",
                STATUS_TIMEOUT_MS,
            )
        elif state == "ended":
            self.statusBar().showMessage("Call ended.", STATUS_TIMEOUT_MS)
        elif state == "failed" and reason:
            self.show_message(reason, True)

    def _on_media_changed(self, event: MediaLost | MediaResumed) -> None:
        """The peer's packets stopped or came back (a loss that ends the call shows as its failure)."""
        if isinstance(event, MediaResumed):
            self.show_message(f"Audio packets from the peer again after {event.gap.ms / 1000:.1f} s without.")
        elif event.ride_out:
            self.show_message(f"{event.reason[0].upper()}{event.reason[1:]}; riding it out.", True)

    def _on_failed(self, message: str) -> None:
        if message != self.banner.text():  # the failed state already showed the same reason
            self.show_message(message, True)

    def _on_finished(self, bridge: CallBridge) -> None:
        if bridge is not self.bridge:
            return
        self.dialer.set_in_call(False)
        self.dialer.stop_timers()
        if self.paint_gate is not None:
            self.paint_gate.detach()
        self.waveforms.stop()
        self._start_panels(bridge)  # a call the engine refused to build: the panels still see it start
        for panel in self.panels.values():
            _guard(lambda p=panel: p.call_finished(bridge), f"{type(panel).__name__}.call_finished")

    # preferences and theme ------------------------------------------------
    def show_preferences(self) -> None:
        if self._preferences_dialog is None:
            self._preferences_dialog = PreferencesDialog(self.preferences, self)
            self._preferences_dialog.applied.connect(self.apply_preferences)
            self._preferences_dialog.finished.connect(self._preferences_closed)
            self._preferences_dialog.open()  # window-modal sheet, no nested event loop
        self._preferences_dialog.raise_()

    def _preferences_closed(self) -> None:
        if self._preferences_dialog is not None:
            self._preferences_dialog.deleteLater()
            self._preferences_dialog = None

    def apply_preferences(self, preferences: Preferences) -> None:
        self.preferences = preferences
        self.settings.save_preferences(preferences)
        self.waveforms.set_seconds(preferences.waveform_seconds)
        self.waveforms.set_fps(preferences.waveform_fps)
        from voicedesk.gui.widgets.log_panel import set_webrtc_verbose

        set_webrtc_verbose(preferences.verbose_webrtc_logs)
        if self.engine is not None:
            self.engine.update_log_levels()
        self.apply_palette(apply_scheme(preferences.theme))

    def _system_scheme_changed(self, *_: object) -> None:
        if self.preferences.theme == "system":
            self.apply_palette(apply_scheme("system"))

    def apply_palette(self, palette: Palette) -> None:
        self.palette_ = palette
        # Only the framed parts get the style sheet: a sheet on the window would put every
        # widget in every tab under Qt's style-sheet style, which costs at start-up
        # (~20 ms here) and in every repaint during a call.
        sheet = stylesheet(palette)
        for frame in (self.dialer, self.banner, *self.cards):
            frame.setStyleSheet(sheet)
        self.dialer.state.set_palette(palette)
        self.waveforms.set_palette(palette)
        self.stats.set_palette(palette)
        for panel in self.panels.values():
            _guard(lambda p=panel: p.theme_changed(palette), f"{type(panel).__name__}.theme_changed")

    # tasks and shutdown ---------------------------------------------------
    @property
    def is_shut_down(self) -> bool:
        return self._shut_down

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._shut_down:
            event.accept()
            return
        event.ignore()  # close for real once the call and the panels have stopped
        if not self._shutting_down:
            self._shutting_down = True
            self.statusBar().showMessage("Closing: hanging up and stopping servers…")
            self._tasks.spawn(self.shutdown(), "MainWindow.shutdown")

    async def shutdown(self) -> None:
        """Hang up, let every panel stop what it owns, save settings, then close."""
        self._shutting_down = True
        self.dialer.setEnabled(False)
        self.waveforms.stop()
        self.dialer.stop_timers()
        if self.bridge is not None:
            with contextlib.suppress(Exception):
                await self.bridge.aclose()
            _close_rings(self.bridge)
        if self.engine is not None and self._owns_engine:
            with contextlib.suppress(Exception):
                await self.engine.aclose()
        for key, panel in self.panels.items():
            try:
                await asyncio.wait_for(panel.aclose(), PANEL_CLOSE_TIMEOUT)
            except Exception:
                logger.exception("panel %s did not close cleanly", key)
        self.settings.save_dialer(self.dialer.state_to_store())
        self.settings.save_window_state(self.saveGeometry(), self.saveState())
        self.settings.set_value("window/splitter", bytes(self.main_splitter.saveState().toBase64()).decode())
        self.settings.sync()
        self._shut_down = True
        QTimer.singleShot(0, self.close)
        self.shut_down.emit()


def _recipes_only(items: list[ExtensionRecipe | CallExtension]) -> list[ExtensionRecipe]:
    """What can cross to the engine process: recipes (an object a plug-in panel made cannot)."""
    from voicedesk.rtc.extension import ExtensionRecipe

    kept = [item for item in items if isinstance(item, ExtensionRecipe)]
    for item in items:
        if not isinstance(item, ExtensionRecipe):
            logger.warning("%s is left out of the call: only recipes reach the engine process", type(item).__name__)
    return kept


def _built(items: list[ExtensionRecipe | CallExtension]) -> dict[str, CallExtension]:
    """The extensions of a call run in this process, by key (an object keeps its class name)."""
    from voicedesk.rtc.extension import ExtensionRecipe

    return {
        item.key if isinstance(item, ExtensionRecipe) else f"{type(item).__name__}#{i}": (
            item.build() if isinstance(item, ExtensionRecipe) else item
        )
        for i, item in enumerate(items)
    }


def _close_rings(bridge: CallBridge) -> None:
    close = getattr(bridge.call, "close_rings", None)
    if close is not None:
        close()


def _prepared_by(panel: Panel, key: str, spec: CallSpec) -> tuple[CallSpec, list[ExtensionRecipe | CallExtension]]:
    """What ``panel`` adds to the next call. A refusal (``VoiceDeskError``) stops the dial with its
    message; a panel's bug is logged and leaves the call without that panel's part."""
    try:
        return panel.prepare_call(spec), list(panel.call_extensions())
    except VoiceDeskError:
        raise
    except Exception:
        logger.exception("the %s tab could not prepare the call", key)
        return spec, []


def _guard(fn: Any, what: str) -> None:
    try:
        fn()
    except Exception:
        logger.exception("%s failed", what)


def _boxed(widget: QWidget) -> QFrame:
    frame = QFrame()
    frame.setObjectName("card")
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(8, 6, 8, 8)
    layout.addWidget(widget)
    return frame


def stylesheet(p: Palette) -> str:
    return f"""
    QFrame#dialer, QFrame#card {{ border: 1px solid {p.grid}; border-radius: 6px; }}
    QFrame#errorBanner {{ background: {p.banner_bg}; border: 1px solid {p.bad}; border-radius: 6px; }}
    QFrame#errorBanner QLabel {{ color: {p.banner_fg}; font-weight: 600; }}
    QLabel#hint, QLabel#readout {{ color: {p.muted}; }}
    QLabel#reason {{ color: {p.bad}; }}
    QLabel#callTimer {{ font-family: monospace; font-size: 15pt; min-width: 64px; }}
    QPushButton#callButton {{ background: {p.ok}; color: white; font-weight: 600; padding: 4px 18px;
        border-radius: 4px; border: none; }}
    QPushButton#callButton:disabled {{ background: {p.grid}; color: {p.muted}; }}
    QPushButton#hangupButton {{ background: {p.bad}; color: white; font-weight: 600; padding: 4px 14px;
        border-radius: 4px; border: none; }}
    QPushButton#hangupButton:disabled {{ background: {p.grid}; color: {p.muted}; }}
    """
