"""Liveness: is the peer still there?

A peer that dies mid-call does not say so. aiortc notices only through ICE consent
(RFC 7675: six failed checks, ~30 s), and consent passes through a path that drops
every RTP packet (the impairment relay at loss=100 %, a media server that froze but
whose ICE agent still answers). So both ends watch the RTP itself: ``RtpArrivals``
counts every packet a receiver is handed, before the jitter buffer and any decoder
(load calls that never decode are watched the same way), times the silences between
them, and ``silence()`` returns once none has come for the media timeout.

A silent but connected peer still sends RTP (silence frames are packets), so a
silence this long means the packets stopped: the peer died, froze, or the path broke.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from voicedesk.rtc import aiortc_patches

logger = logging.getLogger(__name__)

MEDIA_TIMEOUT = 5.0  # seconds without RTP before a call reports the media lost (0 / None = off)
# A silence between packets at least this long is recorded as a gap (a freeze that recovered).
# Shorter ones are loss and jitter (loss_pct, rx_gaps); Opus DTX sends a packet every 400 ms.
GAP_MIN_MS = 1000.0
# When the deadline passes, packets the loop has not read yet (it was busy, or just woke
# from a stall) are not a silence: give them one short look before calling the media lost.
LOOP_GRACE_S = 0.1
# A wake-up this late means this process, not the peer, stood still.
LOOP_STALL_MS = 1000.0


@dataclass(frozen=True)
class MediaGap:
    """A silence between two received RTP packets: the last one before it arrived at
    ``at_ms`` (on the call's clock) and the next one ``ms`` later."""

    at_ms: float
    ms: float

    def to_json(self) -> dict[str, float]:
        return {key: round(value, 1) for key, value in asdict(self).items()}


@dataclass(frozen=True)
class MediaLost:
    """No RTP from the peer for the media timeout. ``since_ms``: the last packet (or the
    moment the call connected, when none ever came); ``ride_out``: the call goes on."""

    t_ms: float
    since_ms: float
    reason: str
    ride_out: bool


@dataclass(frozen=True)
class MediaResumed:
    """Packets from the peer again after a gap of at least ``GAP_MIN_MS``."""

    t_ms: float
    gap: MediaGap


def _monotonic_ms() -> float:
    return time.monotonic() * 1000.0


class RtpArrivals:
    """Every RTP packet handed to the watched receivers, counted as it arrives.

    ``now`` is the clock (ms) gaps are stamped with: the call's, or the monotonic clock.
    ``on_gap`` is called (on the loop, at the packet that ends it) with each gap of at
    least ``gap_min_ms``; it must be quick.
    """

    def __init__(
        self,
        now: Callable[[], float] = _monotonic_ms,
        *,
        gap_min_ms: float = GAP_MIN_MS,
        on_gap: Callable[[MediaGap], None] | None = None,
    ) -> None:
        self._now = now
        self.gap_min_ms = gap_min_ms
        self.on_gap = on_gap
        self.packets = 0
        self.last_ms: float | None = None
        self.gaps: list[MediaGap] = []
        self.watching = False  # a receiver is watched: without one, silence() would be a lie
        self._waiter: asyncio.Future[None] | None = None

    def watch(self, receiver: Any) -> bool:
        """Count the packets ``receiver`` is handed; False if aiortc gives no way to (then
        nothing is watched and no silence is reported)."""
        if aiortc_patches.observe_received_rtp(receiver, self.packet):
            self.watching = True
        return self.watching

    def packet(self) -> None:
        """One packet arrived (called by the receiver hook for every packet: keep it cheap)."""
        now = self._now()
        last, self.last_ms = self.last_ms, now
        self.packets += 1
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        if last is not None and now - last >= self.gap_min_ms:
            gap = MediaGap(last, now - last)
            self.gaps.append(gap)
            if self.on_gap is not None:
                try:
                    self.on_gap(gap)
                except Exception:
                    logger.exception("media gap listener failed")

    async def silence(self, timeout_s: float, since_ms: float) -> float:
        """Return once no packet has arrived for ``timeout_s`` seconds, counting from the last
        packet or from ``since_ms``, whichever is later; returns that moment (ms)."""
        while True:
            last = max(self.last_ms, since_ms) if self.last_ms is not None else since_ms
            wait_ms = last + timeout_s * 1000.0 - self._now()
            if wait_ms > 0:
                planned = self._now() + wait_ms
                await asyncio.sleep(wait_ms / 1000.0)
                if self._now() - planned > LOOP_STALL_MS:
                    # this process stood still (a blocked loop, a suspended machine): the
                    # silence may be ours, not the peer's, so count again from now
                    since_ms = self._now()
                continue
            count = self.packets
            await asyncio.sleep(LOOP_GRACE_S)
            if self.packets == count:
                return last

    async def next_packet(self) -> None:
        """Return when the next packet arrives."""
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None


def media_lost_reason(since_ms: float, connected_ms: float | None) -> str:
    """The one line a user reads: ``no audio packets from the peer since t = 5.0 s``."""
    if connected_ms is not None and since_ms <= connected_ms:
        return f"no audio packets from the peer since the call connected at t = {since_ms / 1000:.1f} s"
    return f"no audio packets from the peer since t = {since_ms / 1000:.1f} s"
