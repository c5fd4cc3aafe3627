"""QApplication + qasync bootstrap, the smoke test, and an orderly shutdown.

Order matters at both ends. Start: QT_API and the platform before Qt is
imported, the application names before any QSettings, the qasync loop with an
executor we own. End: the window closes itself only after hanging up and
stopping its panels; then leftover tasks are cancelled, async generators shut
down, the executor's threads joined and the loop closed, and only then do the
window and the QApplication go (no "QThread destroyed while running", no
"Fatal Python error" at interpreter exit).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

logger = logging.getLogger(__name__)

ORGANIZATION = "VoiceDesk"
APPLICATION = "VoiceDesk"
DOMAIN = "voicedesk.dev"
SHUTDOWN_TIMEOUT = 10.0


@dataclass(frozen=True)
class GuiOptions:
    smoke_test: bool = False
    screenshot: str | None = None
    target: str | None = None  # pre-fill the dialer
    call: bool = False  # and press Call once the window is up
    smoke_timeout: float = 45.0
    smoke_tone_hz: float = 1000.0
    smoke_environment: bool = False  # add versions, C extensions, devices (the packaged app's --smoke-test)
    engine: str | None = None  # process / inprocess (voicedesk/engine/); None: $VOICEDESK_ENGINE or process


def choose_platform(smoke_test: bool) -> str | None:
    """Fall back to the offscreen platform for the smoke test on a machine without a display.

    Returns an error text when a normal start cannot work (no display at all).
    """
    if os.environ.get("QT_QPA_PLATFORM"):
        return None
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or sys.platform in (
        "darwin",
        "win32",
    )
    if has_display:
        return None
    if smoke_test:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        return None
    return (
        "no display found (DISPLAY and WAYLAND_DISPLAY are unset): run the window on a desktop, "
        "use `voicedesk call …` headless, or set QT_QPA_PLATFORM=offscreen"
    )


def configure_application(app: Any) -> None:
    app.setOrganizationName(ORGANIZATION)
    app.setOrganizationDomain(DOMAIN)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APPLICATION)
    app.setStyle("Fusion")  # the same look on every platform; follows the colour scheme
    app.setDesktopFileName("voicedesk")  # matches resources/voicedesk.desktop (Wayland app id)
    from voicedesk.config import resources_dir

    icon = resources_dir() / "icons" / "voicedesk.svg"
    if icon.is_file():
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(icon)))
    from voicedesk.gui.gc_on_gui_thread import collect_on_gui_thread

    collect_on_gui_thread(app)  # Qt objects must not be destroyed by a collection on another thread


def _qt_message(mode: Any, context: Any, message: str) -> None:
    """Qt's own messages into logging; the offscreen plugin's size-hint chatter dropped."""
    from PySide6.QtCore import QtMsgType

    if "propagateSizeHints" in message:
        return
    level = {
        QtMsgType.QtDebugMsg: logging.DEBUG,
        QtMsgType.QtInfoMsg: logging.INFO,
        QtMsgType.QtWarningMsg: logging.WARNING,
    }.get(mode, logging.ERROR)
    logging.getLogger("qt").log(level, "%s", message)


def route_logging() -> None:
    """voicedesk logs INFO to the log panel; stderr keeps the level the CLI chose."""
    from voicedesk.gui.widgets.log_panel import install_handler, set_webrtc_verbose

    root = logging.getLogger()
    for handler in root.handlers:
        if handler.level == logging.NOTSET:
            handler.setLevel(root.level)
    install_handler()
    set_webrtc_verbose(False)
    from PySide6.QtCore import qInstallMessageHandler

    qInstallMessageHandler(_qt_message)


def show_unexpected(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """The one excepthook: log, and tell the user once in a non-modal box."""
    logger.error("unexpected error", exc_info=(exc_type, exc, tb))
    from PySide6.QtWidgets import QApplication, QMessageBox

    app = QApplication.instance()
    if app is None or os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        traceback.print_exception(exc_type, exc, tb)
        return
    box = QMessageBox(QMessageBox.Icon.Critical, "VoiceDesk", f"Unexpected error: {exc}")
    box.setDetailedText("".join(traceback.format_exception(exc_type, exc, tb)))
    from PySide6.QtCore import Qt

    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()


def run(options: GuiOptions) -> int:
    """Start the app; returns the exit status."""
    problem = choose_platform(options.smoke_test)
    if problem:
        print(f"voicedesk: {problem}", file=sys.stderr)
        return 1
    import PySide6  # noqa: F401 - before pyqtgraph and qasync pick a binding

    from voicedesk.gui import pyside_patches

    pyside_patches.apply()  # before the rest is imported: PySide6 reads every module's source
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    configure_application(app)
    route_logging()
    loop = qasync.QEventLoop(app)
    executor = qasync.QThreadExecutor(2)
    loop.set_default_executor(executor)
    asyncio.set_event_loop(loop)
    previous_hook = sys.excepthook
    sys.excepthook = show_unexpected
    window = None
    status = 1
    scratch = tempfile.TemporaryDirectory(prefix="voicedesk-smoke-")
    try:
        from voicedesk.gui.main_window import MainWindow
        from voicedesk.gui.widgets import audio_panel  # noqa: F401 - lists "Microphone" before the dialer is built

        window = MainWindow(settings=_smoke_settings(scratch) if options.smoke_test else None, engine=options.engine)
        if options.target:
            window.dialer.set_target(options.target)
        _close_on_signals(loop, window)
        status = loop.run_until_complete(_main(window, options))
    finally:
        _drain(loop)
        loop.close()  # also shuts the executor down and joins its threads (the call-path warm-up's too)
        asyncio.set_event_loop(None)
        sys.excepthook = previous_hook
        if window is not None:
            if window.engine is not None and window._owns_engine:  # closed in order: gone already
                window.engine.kill_now()
            window.deleteLater()
            window = None
        app.processEvents()
        from voicedesk.gui.widgets.log_panel import remove_handler

        remove_handler()
        from PySide6.QtCore import qInstallMessageHandler

        qInstallMessageHandler(None)
        scratch.cleanup()
    return status


def _smoke_settings(scratch: tempfile.TemporaryDirectory[str]) -> Any:
    """The smoke test neither reads nor changes the user's settings."""
    from PySide6.QtCore import QSettings

    from voicedesk.gui.settings import AppSettings

    return AppSettings(QSettings(str(Path(scratch.name) / "settings.ini"), QSettings.Format.IniFormat))


# Set (to anything) by bench/startup.py: print "shown" once the window has painted and
# "connected" when the call placed by --call connects, so launch-to-window and
# launch-to-call are measured on the real app.
STARTUP_PROBE = "VOICEDESK_STARTUP_PROBE"


async def _main(window: Any, options: GuiOptions) -> int:
    closed = asyncio.Event()
    window.shut_down.connect(closed.set)
    window.show()
    probe = bool(os.environ.get(STARTUP_PROBE))
    if probe:
        from PySide6.QtWidgets import QApplication

        QApplication.processEvents()  # the first paint
        print("shown", flush=True)
    freeze_startup_objects()
    if options.call and not options.smoke_test:
        window.dialer.request_dial()  # as if Call were pressed: a bad target shows its error
        if probe and window.bridge is not None:
            window.bridge.state_changed.connect(_print_final_state)
    elif not options.smoke_test:
        # a call in the engine process needs only what the window reads of it here
        modules = WINDOW_CALL_MODULES if window.engine_mode == "process" else CALL_PATH_MODULES
        warm_call_path(then=lambda: window.bridge is None and freeze_startup_objects(), modules=modules)
    window.prestart_engine()  # its imports run in the child while the user looks at the window
    status = 0
    if options.smoke_test:
        status = await smoke_test(window, options)
        window.close()
    await closed.wait()
    return status


def _print_final_state(state: str, reason: str) -> None:
    if state in ("connected", "failed"):
        print(state, reason, flush=True)


def freeze_startup_objects() -> None:
    """Move everything alive now out of the garbage collector's sight (``gc.freeze``).

    The window, Qt's wrappers, pyqtgraph and the imported modules are ~100k objects
    that live as long as the app; every full collection walked them all, a 15-35 ms
    stall of the loop that sends the audio (bench/gui_media_timing.py). Called before
    any call exists, so nothing a call leaves behind is kept from being collected; no
    collection first (it would cost ~30 ms just then): the little cyclic garbage of
    start-up stays.
    """
    import gc

    gc.freeze()


# imported by the first call, not by the window (measured with sys.modules around a click)
CALL_PATH_MODULES = (
    "voicedesk.agent.sessions",  # embedded: the agent, handed the offer in-process
    "voicedesk.agent.agents",  # embedded:echo / tone (the registry imports an agent when first named)
    "voicedesk.agent.voice_agents",  # embedded:parrot / voice / script: their pipeline
    "voicedesk.rtc.spec",  # the window's dial() puts the call together as a CallSpec
    "voicedesk.rtc.summary",  # Call.summary(), at hang-up and in reports
    "voicedesk.rtc.signaling.http_json",  # an http(s):// target: the HTTP client (aiohttp, ~0.1 s)
    "voicedesk.rtc.sdp.lint",  # the SDP inspector, when its tab shows a call
    "voicedesk.rtc.sdp.summary",
    "voicedesk.rtc.sdp.diff",
    "cryptography.hazmat.primitives.serialization",  # DTLS: the key goes into the TLS context
)


# what the window itself imports for a call that runs in the engine process (the agents, aiohttp and
# the DTLS certificate are the engine's): the spec it sends, what the SDP inspector shows
WINDOW_CALL_MODULES = (
    "voicedesk.rtc.spec",
    "voicedesk.engine.client",
    "voicedesk.rtc.sdp.lint",
    "voicedesk.rtc.sdp.summary",
    "voicedesk.rtc.sdp.diff",
)


def warm_call_path(then: Callable[[], object] | None = None, modules: tuple[str, ...] = CALL_PATH_MODULES) -> None:
    """Import what placing a call needs (aiohttp for HTTP targets: ~0.1 s) while the user
    looks at the window; then run ``then`` on the loop.

    On the loop's executor, so the window stays responsive; started only when no call is
    being placed (two threads importing at once only share the GIL). A dial during the
    import waits for the modules it needs, which is what it would have done anyway. Closing
    the loop joins the executor's threads: a window closed within a second or two of start
    must not leave the thread importing C extensions during the interpreter's finalization
    (that ended the process with SIGSEGV instead of status 0).
    """
    loop = asyncio.get_running_loop()

    def work() -> None:
        import importlib

        # a failure here shows up, worded, when a call needs the module
        for name in modules:
            with contextlib.suppress(Exception):
                importlib.import_module(name)
        if modules is CALL_PATH_MODULES:
            with contextlib.suppress(Exception):
                from aiortc import RTCCertificate

                # the DTLS certificate's first generation imports cryptography's cipher and
                # serialization modules (~10 ms); the certificate itself is thrown away
                RTCCertificate.generateCertificate()
        if then is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(then)

    loop.run_in_executor(None, work)


def _close_on_signals(loop: asyncio.AbstractEventLoop, window: Any) -> None:
    """Ctrl+C / SIGTERM close the window the orderly way (hang up first)."""

    def handler(signum: int, frame: object) -> None:
        loop.call_soon_threadsafe(window.close)

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):  # not the main thread, or unsupported
            signal.signal(sig, handler)
    # Python runs signal handlers only when it gets control; an idle Qt loop runs no
    # Python, so a cheap timer hands control back a few times a second.
    from PySide6.QtCore import QTimer

    wake = QTimer(window)
    wake.setInterval(250)
    wake.timeout.connect(lambda: None)
    wake.start()


def _drain(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left, give it time to finish, shut async generators down."""
    if loop.is_closed():
        return
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        logger.debug("cancelling leftover task %s", task.get_name())
        task.cancel()
    if pending:
        with contextlib.suppress(Exception):
            loop.run_until_complete(asyncio.wait(pending, timeout=SHUTDOWN_TIMEOUT))
    with contextlib.suppress(Exception):
        loop.run_until_complete(loop.shutdown_asyncgens())


async def smoke_test(window: Any, options: GuiOptions) -> int:
    """Call embedded:echo, wait for audio both ways, screenshot, print one JSON line."""
    from voicedesk.gui.widgets.dialer import DialRequest
    from voicedesk.media.pcm import dominant_frequency

    deadline = time.monotonic() + options.smoke_timeout
    # Fill the dialer and press Call as a user would (the screenshot then shows the call).
    dialer = window.dialer
    dialer.set_target("embedded:echo")
    dialer.signaling_kind.setCurrentIndex(0)
    dialer.source_kind.setCurrentIndex(max(0, dialer.source_kind.findText("Tone")))
    dialer.tone_hz.setValue(options.smoke_tone_hz)
    dialer.ice_path.clear()
    dialer.headers.clear()
    dialer.request_dial()
    if window.bridge is None:  # the dialer refused: say why rather than wait
        window.dial(DialRequest(target="embedded:echo", source=f"tone:{options.smoke_tone_hz:g}"))
    result: dict[str, Any] = {"state": "idle", "rx_peak_hz": None, "frames_drawn": 0}
    ok = False
    while time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        bridge = window.bridge
        if bridge is None:
            result["reason"] = window.banner.text() or "the call was not placed"
            break
        state = bridge.state.value
        result["state"] = state
        result["engine"] = "process" if bridge.remote else "inprocess"
        if bridge.state.is_final:
            result["reason"] = bridge.call.reason
            break
        rx = window.waveforms.received.samples(1.0)
        tx = window.waveforms.sent.samples(1.0)
        peak = dominant_frequency(rx) if rx.size >= 24_000 else None
        result["rx_peak_hz"] = None if peak is None else round(peak, 1)
        sent_peak = dominant_frequency(tx) if tx.size >= 24_000 else None
        drawn = window.waveforms.frames_drawn
        result["frames_drawn"] = drawn
        if (
            state == "connected"
            and peak is not None
            and abs(peak - options.smoke_tone_hz) < 20
            and sent_peak is not None
            and drawn >= 10
            and window.stats.point_count >= 2  # two points draw a line (and a useful screenshot)
        ):
            ok = True
            break
    else:
        result["reason"] = f"no audio both ways within {options.smoke_timeout:g} s"
    result["stats_points"] = window.stats.point_count
    engine = window.engine if result.get("engine") == "process" else None
    if engine is not None and engine.pid is not None and hasattr(os, "sched_getaffinity"):
        with contextlib.suppress(OSError):  # where each side may run, as the kernel has it now
            result["media_cpu"] = {
                "cpu": engine.media_cpu,
                "engine_loop": sorted(os.sched_getaffinity(engine.pid)),
                "window": sorted(os.sched_getaffinity(0)),
            }
    if options.smoke_environment:
        from voicedesk.qa.smoke import environment_report

        result.update(environment_report())
    if options.screenshot:
        await asyncio.sleep(0.2)  # let the last frame paint
        path = Path(options.screenshot)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(path), "PNG"):
            result["screenshot_error"] = f"could not write {path}"
            ok = False
        else:
            result["screenshot"] = str(path)
    print(json.dumps(result), flush=True)
    return 0 if ok else 1
