"""Admission control: refuse a new call (503) before the server degrades every call.

Past saturation aiortc loses no packets: it queues them, so every live call gets
later and later (measured: 10 s of delay at 60 echo calls on one core). The
event loop's lag is the earliest honest sign of that: media tasks wake up late
once the loop has more work than time. ``LoopLagMonitor`` sleeps a short interval
over and over and records how late it woke; the server refuses new sessions while
the median lateness over the last seconds is above its limit (a median, so that
one garbage-collection pause or a burst of set-ups does not turn calls away).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import deque

from voicedesk.tasks import cancel_and_wait


class LoopLagMonitor:
    """Median lateness (ms) of a ``interval``-second sleep over the last ``window`` seconds."""

    def __init__(self, interval: float = 0.05, window: float = 3.0) -> None:
        self.interval = interval
        self.window = window
        self._samples: deque[tuple[float, float]] = deque()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop lag monitor")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    def record(self, at: float, lag_ms: float) -> None:
        self._samples.append((at, lag_ms))
        while self._samples and self._samples[0][0] < at - self.window:
            self._samples.popleft()

    def median_ms(self) -> float:
        return statistics.median(lag for _, lag in self._samples) if self._samples else 0.0

    def max_ms(self) -> float:
        return max((lag for _, lag in self._samples), default=0.0)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.interval)
            now = loop.time()
            self.record(time.monotonic(), max(0.0, (now - before - self.interval) * 1000.0))
