"""getStats -> samples in the units people read (ms, %, kbit/s), with provenance.

aiortc's getStats is thin: inbound-rtp (packetsReceived, packetsLost, jitter in
RTP clock units), outbound-rtp (packetsSent, bytesSent), remote-inbound-rtp
(roundTripTime, fractionLost from the peer's RTCP receiver reports, only after
the first one arrives) and transport (bytes). A field that does not exist is
None, never 0, and ``FIELD_SOURCES`` says where each number comes from.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from aiortc import RTCPeerConnection

from voicedesk.rtc.quality import estimate_mos
from voicedesk.tasks import cancel_and_wait

logger = logging.getLogger(__name__)

MIN_RATE_WINDOW_MS = 250.0  # a bitrate needs a dozen 20 ms packets between two readings
# each bitrate and the byte counter it is the delta of
_RATES = (("bytes_sent", "bitrate_out_kbps"), ("bytes_received", "bitrate_in_kbps"))

FIELD_SOURCES: dict[str, str] = {
    "packets_sent": "local outbound-rtp.packetsSent",
    "packets_received": "local inbound-rtp.packetsReceived",
    "packets_lost": "local inbound-rtp.packetsLost (sequence gaps seen here)",
    "loss_pct": "local inbound-rtp: packetsLost / (packetsReceived + packetsLost)",
    "jitter_ms": "local inbound-rtp.jitter (RFC 3550, RTP units / clock rate)",
    "rtt_ms": "remote-inbound-rtp.roundTripTime (peer's RTCP receiver report)",
    "remote_loss_pct": "remote-inbound-rtp.fractionLost (peer's RTCP: loss of what we sent)",
    "remote_jitter_ms": "remote-inbound-rtp.jitter (peer's RTCP: jitter of what we sent)",
    "bitrate_out_kbps": "local outbound-rtp.bytesSent, delta per second "
    f"(RTP payload + header; over ≥ {MIN_RATE_WINDOW_MS:g} ms)",
    "bitrate_in_kbps": "local transport.bytesReceived, delta per second "
    f"(includes RTCP/DTLS; over ≥ {MIN_RATE_WINDOW_MS:g} ms)",
    "mos": "E-model estimate (ITU-T G.107 simplified, see rtc/quality.py) from rtt_ms/2, jitter_ms, loss_pct",
}


@dataclass(frozen=True)
class StatsSample:
    """One getStats reading. ``t_ms`` is milliseconds since the call started."""

    t_ms: float
    packets_sent: int | None = None
    packets_received: int | None = None
    packets_lost: int | None = None
    loss_pct: float | None = None
    jitter_ms: float | None = None
    rtt_ms: float | None = None
    remote_loss_pct: float | None = None
    remote_jitter_ms: float | None = None
    bitrate_out_kbps: float | None = None
    bitrate_in_kbps: float | None = None
    bytes_sent: int | None = None
    bytes_received: int | None = None
    mos: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def sample_from_report(
    report: dict[str, Any],
    t_ms: float,
    clock_rate: int,
    previous: StatsSample | None = None,
) -> StatsSample:
    """Normalize one aiortc ``RTCStatsReport`` (a dict of stats objects)."""
    fields: dict[str, Any] = {}
    by_type: dict[str, list[Any]] = {}
    for stat in report.values():
        by_type.setdefault(getattr(stat, "type", ""), []).append(stat)

    inbound = [s for s in by_type.get("inbound-rtp", []) if getattr(s, "kind", "audio") == "audio"]
    if inbound:
        received = sum(s.packetsReceived for s in inbound)
        lost = max(0, sum(s.packetsLost for s in inbound))
        fields["packets_received"] = received
        fields["packets_lost"] = lost
        fields["loss_pct"] = 100.0 * lost / (received + lost) if received + lost else 0.0
        fields["jitter_ms"] = max(s.jitter for s in inbound) * 1000.0 / clock_rate

    outbound = [s for s in by_type.get("outbound-rtp", []) if getattr(s, "kind", "audio") == "audio"]
    if outbound:
        fields["packets_sent"] = sum(s.packetsSent for s in outbound)
        fields["bytes_sent"] = sum(s.bytesSent for s in outbound)

    remote_in = by_type.get("remote-inbound-rtp", [])
    if remote_in:
        r = remote_in[0]
        # aiortc reports roundTripTime None until a receiver report echoes one of our sender
        # reports (LSR); that must not cost the whole sample
        if r.roundTripTime is not None:
            fields["rtt_ms"] = r.roundTripTime * 1000.0
        if r.fractionLost is not None:
            fields["remote_loss_pct"] = 100.0 * r.fractionLost
        if r.jitter is not None:
            fields["remote_jitter_ms"] = r.jitter * 1000.0 / clock_rate

    transports = by_type.get("transport", [])
    if transports:
        fields["bytes_received"] = sum(s.bytesReceived for s in transports)

    return finish_sample(fields, t_ms, previous)


def finish_sample(fields: dict[str, Any], t_ms: float, previous: StatsSample | None) -> StatsSample:
    """Bitrates from the byte counters' deltas and the MOS estimate, then the sample.

    Shared with readers of other stats sources (qa/webrtc_dump.py: Chrome's dumps), so
    every series is derived the same way."""
    if previous is not None and t_ms - previous.t_ms < MIN_RATE_WINDOW_MS:
        # a reading just after another (a check's sample_stats, the one at hang-up) holds a packet
        # or none: its delta says 0 or twice the rate. The rate stands as the last full window's.
        for _, rate in _RATES:
            fields[rate] = getattr(previous, rate)
    elif previous is not None:
        seconds = (t_ms - previous.t_ms) / 1000.0
        for total, rate in _RATES:
            now, before = fields.get(total), getattr(previous, total)
            if now is not None and before is not None:
                fields[rate] = max(0.0, (now - before) * 8 / 1000.0 / seconds)
    estimate = estimate_mos(fields.get("rtt_ms"), fields.get("jitter_ms"), fields.get("loss_pct"))
    if estimate is not None:
        fields["mos"] = estimate.mos
    return StatsSample(t_ms=t_ms, **fields)


class StatsSampler:
    """Polls ``pc.getStats()`` at a fixed interval and keeps every sample of the call."""

    def __init__(
        self,
        pc: RTCPeerConnection,
        clock_rate: Callable[[], int],
        started_at: float,
        interval: float = 1.0,
    ) -> None:
        self._pc = pc
        self._clock_rate = clock_rate
        self._started_at = started_at
        self.interval = interval
        self.samples: list[StatsSample] = []
        self._listeners: list[Callable[[StatsSample], None]] = []
        self._task: asyncio.Task[None] | None = None

    def add_listener(self, listener: Callable[[StatsSample], None]) -> None:
        self._listeners.append(listener)

    @property
    def latest(self) -> StatsSample | None:
        return self.samples[-1] if self.samples else None

    async def sample(self) -> StatsSample:
        report = await self._pc.getStats()
        t_ms = (time.monotonic() - self._started_at) * 1000.0
        sample = sample_from_report(report, t_ms, self._clock_rate(), self.latest)
        self.samples.append(sample)
        for listener in self._listeners:
            listener(sample)
        return sample

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="StatsSampler")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.sample()
            except Exception as exc:  # the pc may be closing under us
                logger.debug("getStats failed: %s", exc)
