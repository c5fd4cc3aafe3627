"""gui/gc_on_gui_thread.py: a Qt object in a garbage cycle is destroyed on the GUI thread, however
busy other threads are (destroyed elsewhere, its timers stay registered and later crash Qt)."""

from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject, Qt

from voicedesk.gui.gc_on_gui_thread import collecting_on_gui_thread


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_a_cycle_holding_a_qt_object_is_collected_on_the_gui_thread(aloop, qtbot) -> None:
    assert collecting_on_gui_thread() and not gc.isenabled()
    destroyed_on: list[int] = []
    holder = Cycle()
    holder.qobject = QObject()  # owned by Python: freeing the wrapper deletes the C++ object
    holder.qobject.destroyed.connect(
        lambda: destroyed_on.append(threading.get_ident()), Qt.ConnectionType.DirectConnection
    )
    del holder  # only the cycle keeps it now

    busy = threading.Event()

    def allocate() -> None:  # what would have run automatic collections on this thread
        while not busy.is_set():
            for _ in range(10_000):
                Cycle()

    worker = threading.Thread(target=allocate, name="allocating", daemon=True)
    worker.start()
    try:
        qtbot.waitUntil(lambda: bool(destroyed_on), timeout=10_000)
    finally:
        busy.set()
        worker.join(5)
    assert destroyed_on == [threading.main_thread().ident]
