"""Paint in the shadow of the send schedule.

The outgoing audio leaves every 20 ms from the same loop that paints. A repaint
started just before a packet is due delays that packet; one started just after
it has the whole 20 ms to finish. The gate watches the sent frames (the call's
``OutboundAudioTrack`` observers run as each frame goes to the encoder) and runs
the work it is given at once when the next packet is far enough away, else right
after the next packet goes out. Work is never dropped and is delayed by at most one
packet interval, so a 30 fps timer still draws 30 frames a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import numpy as np

PACKET_INTERVAL_S = 0.020
SAFE_WINDOW_S = 0.011  # start work only within 11 ms after a packet: ~9 ms to spare


class PaintGate:
    def __init__(self, safe_window_s: float = SAFE_WINDOW_S) -> None:
        self.safe_window_s = safe_window_s
        self._last_packet: float | None = None
        self._waiting: dict[Callable[[], None], None] = {}
        self.deferred = 0  # how many runs waited for a packet (diagnostics, bench)
        self._active = False

    def attach(self, add_observer: Callable[[Callable[[np.ndarray], None]], None]) -> None:
        """Watch a sender: ``add_observer`` is e.g. ``call.outbound.add_observer``."""
        add_observer(self._on_packet)
        self._active = True

    def detach(self) -> None:
        """The call is over: run what waits and stop gating (the observer stays, harmless)."""
        self._active = False
        self._last_packet = None
        self._flush()

    def run(self, work: Callable[[], None]) -> None:
        """Run ``work`` now if that cannot delay the next packet, else right after it.

        Work is keyed by the callable, so a timer that fires twice while waiting runs once.
        """
        if not self._active or self._last_packet is None:
            work()
            return
        since = time.perf_counter() - self._last_packet
        # in the quiet part of the interval, or the sender is not sending (paused, ended)
        if since <= self.safe_window_s or since > 2 * PACKET_INTERVAL_S:
            work()
            return
        self.deferred += 1
        self._waiting[work] = None  # bound methods compare equal: a repeated tick waits once

    def _on_packet(self, samples: np.ndarray) -> None:
        if not self._active:
            return
        self._last_packet = time.perf_counter()
        if self._waiting:
            # call_soon: after the packet has been encoded and handed to the transport
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        waiting, self._waiting = self._waiting, {}
        for work in waiting:
            work()
