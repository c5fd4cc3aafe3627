"""Paint in the quiet between packets, sent and received.

The window paints on the same loop that sends a packet every 20 ms and reads the
packets that arrive every 20 ms (or at the peer's ptime: each stream's interval is
the audio its last frame carried). A repaint that runs when a packet is due delays
it: an outgoing packet leaves late, and an incoming one is read late, which aiortc
then counts as network jitter (it timestamps a packet when Python reads it), so the
window's own painting would show up in the "jitter in" it displays.

The gate knows both schedules: the call's ``OutboundAudioTrack`` observers run as
each frame goes to the encoder, and a sink on the received audio sees each decoded
frame (aiortc releases one per arriving packet). Work it is given runs at once when
no packet is expected for as long as that kind of work took last time (Qt's repaint
included, at least ``quiet_s``); otherwise right after the next packet, sent or
received, that leaves enough quiet behind it. Work is never dropped and waits at
most ``MAX_WAIT_S``, so a 30 fps timer still draws 30 frames a second; a stream that
stopped (paused, ended, lost) is not waited for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from voicedesk.media.pcm import SAMPLE_RATE
from voicedesk.media.sinks import AudioSink

PACKET_INTERVAL_S = 0.020  # until a stream's first frame says otherwise (a=ptime:40 -> 40 ms frames)
QUIET_S = 0.008  # start work only when the next packet is at least 8 ms away
MARGIN_S = 0.001  # on top of what the work took last time
MAX_WAIT_S = 0.040  # two packet intervals: past that, paint anyway
COST_DECAY = 0.9  # a slow run raises a work's expected cost at once; it decays by 10 % a run


class PaintGate:
    def __init__(self, quiet_s: float = QUIET_S) -> None:
        self.quiet_s = quiet_s
        self._last: dict[str, float] = {}  # "sent" / "received" -> perf_counter of the last packet
        self._interval: dict[str, float] = {}  # "sent" / "received" -> seconds of audio a packet carries
        self._waiting: dict[Callable[[], None], float] = {}  # work -> when it started waiting
        self._check_scheduled = False
        self._cost: dict[Any, float] = {}  # kind of work -> seconds it took, repaint included
        self.deferred = 0  # how many runs waited for a packet (diagnostics, bench)
        self._active = False

    def attach(self, add_observer: Callable[[Callable[[np.ndarray], None]], None]) -> None:
        """Watch a sender: ``add_observer`` is e.g. ``call.add_sent_observer``."""
        add_observer(lambda samples: self._on_packet("sent", samples.size / SAMPLE_RATE))
        self._active = True

    def attach_received(self, add_sink: Callable[[AudioSink], None]) -> None:
        """Watch the received audio: ``add_sink`` is e.g. ``call.add_sink``."""
        add_sink(_ArrivalSink(self))
        self._active = True

    def detach(self) -> None:
        """The call is over: run what waits and stop gating (the observers stay, harmless)."""
        self._active = False
        self._last.clear()
        self._interval.clear()
        self._flush()

    def quiet_for(self, now: float | None = None) -> float:
        """Seconds until the next packet either way is due (inf when no stream is running)."""
        now = time.perf_counter() if now is None else now
        quiet = float("inf")
        for direction, last in self._last.items():
            since = now - last
            interval = self._interval.get(direction, PACKET_INTERVAL_S)
            if since > 2 * interval:
                continue  # this stream stopped: nothing to protect
            quiet = min(quiet, max(0.0, interval - since))  # an overdue packet is due now
        return quiet

    def run(self, work: Callable[[], None]) -> None:
        """Run ``work`` now if that cannot delay a packet, else after the next one.

        Work is keyed by the callable, so a timer that fires twice while waiting runs once.
        """
        quiet = self.quiet_for()
        if not self._active or quiet == float("inf"):
            self._waiting.pop(work, None)
            self._flush()  # work left waiting when the streams stopped
            self._run(work)
            return
        if quiet >= self.needs(work):
            self._run(work)
            return
        self.deferred += 1
        self._waiting.setdefault(work, time.perf_counter())  # bound methods compare equal

    def _on_packet(self, direction: str, duration_s: float = PACKET_INTERVAL_S) -> None:
        """A frame went out or came in; ``duration_s`` is the audio it carries (its ptime)."""
        if not self._active:
            return
        self._last[direction] = time.perf_counter()
        if 0.005 <= duration_s <= 0.120:  # a resampler's odd first chunk says nothing of the ptime
            self._interval[direction] = duration_s
        if self._waiting and not self._check_scheduled:
            # call_soon: after the packet's own step (encoded and sent, or read and decoded)
            self._check_scheduled = True
            asyncio.get_running_loop().call_soon(self._check)

    def needs(self, work: Callable[[], None]) -> float:
        """The quiet ``work`` needs: what this kind of work took last time, or ``quiet_s``."""
        return max(self.quiet_s, self._cost.get(_kind(work), 0.0) + MARGIN_S)

    def _check(self) -> None:
        """After a packet: run what fits in the quiet ahead, and what has waited too long."""
        self._check_scheduled = False
        now = time.perf_counter()
        quiet = self.quiet_for(now)
        for work, since in list(self._waiting.items()):
            if quiet >= self.needs(work) or now - since >= MAX_WAIT_S:
                del self._waiting[work]
                self._run(work)
                quiet = self.quiet_for()  # what is left after it

    def _run(self, work: Callable[[], None]) -> None:
        started = time.perf_counter()
        work()
        if self._active:
            # call_soon runs after Qt has processed the repaint the work asked for
            asyncio.get_running_loop().call_soon(self._took, _kind(work), started)

    def _took(self, kind: Any, started: float) -> None:
        cost = time.perf_counter() - started
        self._cost[kind] = max(cost, self._cost.get(kind, cost) * COST_DECAY)

    def _flush(self) -> None:
        waiting, self._waiting = self._waiting, {}
        for work in waiting:
            self._run(work)


def _kind(work: Callable[[], None]) -> Any:
    """What a work's cost is remembered by: a ``functools.partial``'s function (each stats
    sample comes as a new partial of the same method), else the callable itself."""
    return getattr(work, "func", work)


class _ArrivalSink(AudioSink):
    """Tells the gate when a received frame (one per arriving packet) was decoded."""

    def __init__(self, gate: PaintGate) -> None:
        super().__init__()
        self._gate = gate

    def write(self, samples: np.ndarray) -> None:
        self._gate._on_packet("received", samples.size / SAMPLE_RATE)
