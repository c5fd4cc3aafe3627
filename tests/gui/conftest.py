"""GUI tests: pytest-qt on the offscreen platform, a qasync loop per test over ``qapp``.

The loop is created with ``already_running=True`` (pytest-qt's waits spin Qt,
which runs the asyncio callbacks), gets its own QThreadExecutor, and in teardown
leftover tasks are cancelled and awaited, the executor is shut down, and a task
that outlived its test fails it.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported
os.environ.setdefault("QT_API", "pyside6")

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Iterator

import pytest
import qasync
from PySide6.QtCore import QSettings, QStandardPaths

from voicedesk.engine.client import EngineProcess
from voicedesk.gui.app import configure_application
from voicedesk.gui.main_window import MainWindow
from voicedesk.gui.settings import AppSettings

CLOSE_TIMEOUT_MS = 30_000

# Each process keeps its own settings: with pytest-xdist two GUI modules run at once, and a
# shared file let one test's clear() wipe what another had just stored.
QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, tempfile.mkdtemp(prefix="vd-qsettings-"))


@pytest.fixture
def aloop(qapp) -> Iterator[asyncio.AbstractEventLoop]:
    QStandardPaths.setTestModeEnabled(True)  # never touch a real user's settings
    configure_application(qapp)
    QSettings().clear()
    loop = qasync.QEventLoop(qapp, already_running=True)
    executor = qasync.QThreadExecutor(1)
    loop.set_default_executor(executor)
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        leaked = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in leaked:
            task.cancel()
        deadline = time.monotonic() + 10
        while any(not t.done() for t in leaked) and time.monotonic() < deadline:
            qapp.processEvents()
            time.sleep(0.01)
        executor.shutdown(wait=True)
        loop.set_default_executor(None)
        _close_loop(qapp, loop)
        QSettings().clear()
        names = sorted(t.get_name() for t in leaked)
        # aiortc/aioice keep a few internal tasks alive briefly after close; ours must not leak.
        ours = [n for n in names if n.startswith(("CallBridge", "MainWindow", "AgentPanel", "StatsSampler"))]
        assert not ours, f"tasks leaked past the test: {ours}"


def _close_loop(qapp, loop: asyncio.AbstractEventLoop) -> None:
    """Close an ``already_running`` qasync loop without ``stop()``.

    ``stop()`` calls ``QCoreApplication.exit()``, which sets Qt's quitNow flag and
    makes every later ``QEventLoop.exec()`` (pytest-qt's waitSignal) return at once.
    """
    with contextlib.suppress(RuntimeError, TypeError):
        qapp.aboutToQuit.disconnect(loop._after_run_forever)
    with contextlib.suppress(Exception):
        loop._after_run_forever()
    loop._QEventLoop__is_running = False  # what stop() would do, minus app.exit()
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture
def settings(aloop) -> AppSettings:
    return AppSettings()


def close_window(window: MainWindow, qtbot) -> None:
    window.close()
    qtbot.waitUntil(lambda: window.is_shut_down, timeout=CLOSE_TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5_000)


@pytest.fixture(scope="session")
def shared_engine() -> Iterator[EngineProcess]:
    """One engine process for every window of the session (each spawn imports aiortc & co. again:
    ~1 s a test); a test that kills it gets a new one the next time a window dials."""
    engine = EngineProcess()
    try:
        yield engine
    finally:
        engine.kill_now()


@pytest.fixture
def window(qtbot, aloop, request, shared_engine) -> Iterator[MainWindow]:
    """The window; its calls in the engine process (the default) unless the test is marked
    ``inprocess`` (it looks inside the core ``Call`` object, which then runs in the test)."""
    inprocess = request.node.get_closest_marker("inprocess")
    # own_engine: a test that sets the environment up (a sound server) needs an engine started after
    shared = None if inprocess or request.node.get_closest_marker("own_engine") else shared_engine
    w = MainWindow(engine="inprocess" if inprocess else None, engine_process=shared)
    w.show()
    qtbot.waitExposed(w)
    try:
        yield w
    finally:
        if not w.is_shut_down:
            close_window(w, qtbot)
        w.deleteLater()
