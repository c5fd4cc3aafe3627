"""Python's cycle collector runs on the GUI thread only, in any process that shows a window.

Python collects reference cycles in whichever thread allocates past the threshold: the engine
pipe's reader, qasync's executor thread, a sound device's callback. A cycle that holds a Qt
object (a closed window's wrapper, a pyqtgraph marker taken off a plot) is then destroyed on
that thread. Qt cannot stop a timer from another thread, so the timer stays registered with the
GUI thread's dispatcher, and its next pass delivers an event to freed memory: a segfault in
``QCoreApplication::notifyInternal2`` under ``QTimerInfoList::activateTimers``. It was seen in
the GUI tests in about one run in ten, in a test that adds and removes turn markers.

The fix: automatic collection is switched off, and a timer on the GUI thread collects the
oldest generation whose count is past its threshold. That is Python's rule except for one
condition Python does not expose: it also skips a full collection until a quarter as many
objects await one as survived the last, so full collections may run more often here (each
short after ``gc.freeze()`` at the first paint; not measured on their own). This is
pyqtgraph's ``util.garbage_collector.GarbageCollector``, written out here so that start-up does
not import pyqtgraph before the first paint. An upstream candidate for pyqtgraph: it does this
only when an application asks. The engine process is not affected: it has no Qt and collects
as usual.
"""

from __future__ import annotations

import gc
from typing import Any

INTERVAL_MS = 500

_timer: Any = None


def collect_on_gui_thread(app: Any, interval_ms: int = INTERVAL_MS) -> None:
    """Turn automatic collection off and collect from ``app``'s thread every ``interval_ms``
    (once per process; later calls do nothing)."""
    global _timer
    if _timer is not None:
        return
    from PySide6.QtCore import QTimer

    thresholds = gc.get_threshold()

    def collect() -> None:
        counts = gc.get_count()
        due = [generation for generation in range(3) if counts[generation] > thresholds[generation]]
        if due:
            gc.collect(max(due))

    _timer = QTimer(app)  # the application owns it: it lives as long as Qt does, on its thread
    _timer.timeout.connect(collect)
    _timer.start(interval_ms)
    gc.disable()


def collecting_on_gui_thread() -> bool:
    return _timer is not None and not gc.isenabled()
