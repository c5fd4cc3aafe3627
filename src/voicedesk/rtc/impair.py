"""Bad networks on demand, without root: a UDP relay between the two peers.

The answer's UDP candidates are rewritten to point at local relay sockets; the
relay forwards each datagram to the real candidate after applying loss (random or
in bursts), delay, jitter and a bandwidth cap, separately per direction. aiortc is
untouched: on the far side the relay's socket simply shows up as a peer-reflexive
candidate, which ICE is built to accept. ``up`` is what we send, ``down`` what we
receive. The relay counts what it forwarded and dropped, so tests compare what
the window shows against a ground truth they control.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from voicedesk.errors import ConfigError
from voicedesk.limits import problem
from voicedesk.rtc.sdp.model import parse_candidate_line

logger = logging.getLogger(__name__)

DIRECTIONS = ("up", "down")
_FIGURE = re.compile(r"^\s*(?:(up|down)\.)?(loss|burst|delay|jitter|rate)\s*=\s*([0-9.]+)\s*([a-z%/]*)\s*$", re.I)
_UNITS = {
    "loss": {"%": 1.0, "": 1.0},
    "burst": {"": 1.0, "pkt": 1.0, "packets": 1.0},
    "delay": {"ms": 1.0, "": 1.0, "s": 1000.0},
    "jitter": {"ms": 1.0, "": 1.0, "s": 1000.0},
    "rate": {"kbit": 1.0, "kbps": 1.0, "kbit/s": 1.0, "": 1.0, "mbit": 1000.0, "mbps": 1000.0},
}


@dataclass(frozen=True)
class Impairment:
    """What one direction suffers. ``burst`` is the mean length of a loss burst in
    packets (1 = independent losses); ``rate_kbps`` 0 means no cap."""

    loss_pct: float = 0.0
    burst: float = 1.0
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    rate_kbps: float = 0.0

    @property
    def is_clear(self) -> bool:
        return self == Impairment()

    def describe(self) -> str:
        parts = []
        if self.loss_pct:
            parts.append(f"loss {self.loss_pct:g}%" + (f" in bursts of {self.burst:g}" if self.burst > 1 else ""))
        if self.delay_ms:
            parts.append(f"delay {self.delay_ms:g} ms")
        if self.jitter_ms:
            parts.append(f"jitter {self.jitter_ms:g} ms")
        if self.rate_kbps:
            parts.append(f"cap {self.rate_kbps:g} kbit/s")
        return ", ".join(parts) or "none"


# Named networks, the same in the window's Network tab and ``--impair NAME``.
PRESETS: dict[str, str] = {
    "Clean": "loss=0%,delay=0ms,jitter=0ms,rate=0",
    "Good Wi-Fi": "loss=0.5%,delay=10ms,jitter=4ms",
    "Busy Wi-Fi": "loss=2%,burst=3,delay=30ms,jitter=15ms",
    "Mobile 4G": "loss=1%,delay=45ms,jitter=10ms",
    "Poor 3G": "loss=5%,burst=2,delay=120ms,jitter=40ms,rate=96kbit",
    "Satellite": "loss=1%,delay=300ms,jitter=20ms",
    "Congested uplink": "up.loss=8%,up.burst=4,up.rate=48kbit",
}


def _preset_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


_PRESET_KEYS = {_preset_key(name): figures for name, figures in PRESETS.items()}


def expand_preset(text: str) -> str:
    """The figures of a preset named in ``text`` (``Poor 3G``, ``poor-3g``), else ``text``."""
    if "=" in text:
        return text
    return _PRESET_KEYS.get(_preset_key(text), text)


def combine_impairments(base: str | None, extra: str | None) -> str | None:
    """``extra`` on top of ``base`` (each figures or a preset's name): the figures ``extra`` names
    replace the same figures of ``base``, the others of ``base`` stay."""
    parts = [expand_preset(t) for t in (base, extra) if t and t.strip()]
    return ",".join(parts) if parts else None


@dataclass(frozen=True)
class ImpairmentSpec:
    up: Impairment = field(default_factory=Impairment)
    down: Impairment = field(default_factory=Impairment)

    @classmethod
    def parse(cls, text: str) -> ImpairmentSpec:
        """``loss=5%,delay=80ms,jitter=20ms``; ``up.loss=2%`` names one direction.

        A figure without a direction applies to each direction (so ``delay=50ms``
        adds 100 ms to the round trip)."""
        values: dict[str, dict[str, float]] = {"up": {}, "down": {}}
        text = expand_preset(text)
        for item in filter(None, (part.strip() for part in text.split(","))):
            match = _FIGURE.match(item)
            if not match:
                raise ConfigError(
                    f"bad impairment {item!r}: use loss=5%, burst=3, delay=80ms, jitter=20ms, rate=64kbit, "
                    "optionally prefixed up. or down."
                )
            direction, name, number, unit = match.groups()
            name, unit = name.lower(), unit.lower()
            if unit not in _UNITS[name]:
                raise ConfigError(f"bad unit {unit!r} in {item!r}")
            try:
                value = float(number) * _UNITS[name][unit]
            except ValueError:  # the pattern lets "1.2.3" and "." through
                raise ConfigError(f"bad impairment {item!r}: {number!r} is not a number") from None
            why = problem(value, minimum=0)  # a figure of 400 digits reads as inf
            if why is not None:
                raise ConfigError(f"bad impairment {item!r}: {why}")
            if name == "loss" and not 0 <= value <= 100:
                raise ConfigError(f"bad impairment {item!r}: loss must be 0–100 %")
            if name == "burst" and value < 1:
                raise ConfigError(f"bad impairment {item!r}: burst is a mean length in packets, ≥ 1")
            key = {"loss": "loss_pct", "delay": "delay_ms", "jitter": "jitter_ms", "rate": "rate_kbps"}.get(name, name)
            for d in (direction.lower(),) if direction else DIRECTIONS:
                values[d][key] = value
        return cls(Impairment(**values["up"]), Impairment(**values["down"]))

    def describe(self) -> str:
        if self.up == self.down:
            return f"each way: {self.up.describe()}"
        return f"up: {self.up.describe()}; down: {self.down.describe()}"


@dataclass
class DirectionCounters:
    """Every datagram the relay saw, and RTP alone (what getStats' loss counts).
    Note: the relay sees SRTP, so it counts packets, never decodes them."""

    received: int = 0
    dropped_loss: int = 0
    dropped_queue: int = 0
    forwarded: int = 0
    rtp_received: int = 0
    rtp_dropped: int = 0
    held_ms_total: float = 0.0  # how long forwarded datagrams really stayed in the relay

    @property
    def rtp_loss_pct(self) -> float | None:
        return 100.0 * self.rtp_dropped / self.rtp_received if self.rtp_received else None

    @property
    def mean_held_ms(self) -> float | None:
        """The delay the relay really added (timers fire late on a busy loop)."""
        return self.held_ms_total / self.forwarded if self.forwarded else None

    def to_json(self) -> dict[str, float | int | None]:
        out: dict[str, float | int | None] = dict(vars(self))
        out.pop("held_ms_total")
        out["mean_held_ms"] = None if self.mean_held_ms is None else round(self.mean_held_ms, 2)
        return out


class _Shaper:
    """Loss model + delay/jitter + token-bucket cap for one direction."""

    def __init__(self, impairment: Impairment, rng: random.Random) -> None:
        self.impairment = impairment
        self.rng = rng
        self.counters = DirectionCounters()
        self._bad = False
        self._next_free = 0.0  # when the capped link is free again (loop time)
        self._queued_bytes = 0

    def lose(self) -> bool:
        imp = self.impairment
        if imp.loss_pct <= 0:
            return False
        p = imp.loss_pct / 100.0
        if imp.burst <= 1:
            return self.rng.random() < p
        # Gilbert model with a lossy bad state: mean burst = burst, long-run loss = p.
        leave_bad = 1.0 / imp.burst
        enter_bad = min(1.0, p * leave_bad / max(1e-9, 1.0 - p))
        self._bad = (self.rng.random() >= leave_bad) if self._bad else (self.rng.random() < enter_bad)
        return self._bad

    def departure(self, now: float, size: int) -> float | None:
        """When the datagram leaves, or None if the cap's queue is full (tail drop)."""
        imp = self.impairment
        leave = now
        if imp.rate_kbps > 0:
            start = max(now, self._next_free)
            if start - now > 0.5:  # more than 500 ms queued: a real bottleneck drops
                return None
            self._next_free = start + size * 8 / (imp.rate_kbps * 1000.0)
            leave = self._next_free
        delay = imp.delay_ms
        if imp.jitter_ms:
            delay = max(0.0, self.rng.gauss(delay, imp.jitter_ms))
        return leave + delay / 1000.0


class _Socket(asyncio.DatagramProtocol):
    """A relay socket that stands in for one peer's candidate on the other side."""

    def __init__(self, relay: ImpairmentRelay, side: str, real: tuple[str, int]) -> None:
        self.relay = relay
        self.side = side  # "local": stands in for one of our candidates; "remote": for one of theirs
        self.real = real  # the candidate it stands in for
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    @property
    def address(self) -> tuple[str, int]:
        return self.transport.get_extra_info("sockname")[:2]  # type: ignore[union-attr]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.relay._received(self, data, addr)

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, addr)


@dataclass(frozen=True)
class ImpairmentChanged:
    """The impairment was set or changed (graphs mark it)."""

    spec: ImpairmentSpec
    at: float  # time.monotonic()
    t_ms: float | None = None  # ms since the call started (the call stamps it; graphs' time axis)


class ImpairmentRelay:
    def __init__(self, spec: ImpairmentSpec | None = None, host: str = "127.0.0.1", seed: int | None = None) -> None:
        self.host = host
        self._rng = random.Random(seed)
        self.spec = spec or ImpairmentSpec()
        self._shapers = {d: _Shaper(getattr(self.spec, d), self._rng) for d in DIRECTIONS}
        self._local: dict[tuple[str, int], _Socket] = {}  # our real candidate -> its stand-in
        self._remote: dict[tuple[str, int], _Socket] = {}  # their real candidate -> its stand-in
        self._timers: deque[asyncio.TimerHandle] = deque()
        self.changes: list[ImpairmentChanged] = [ImpairmentChanged(self.spec, time.monotonic())]
        self.listeners: list[Any] = []

    @property
    def counters(self) -> dict[str, DirectionCounters]:
        return {d: s.counters for d, s in self._shapers.items()}

    def set(self, spec: ImpairmentSpec) -> None:
        """Change the impairment during a call; counters carry on."""
        self.spec = spec
        for d in DIRECTIONS:
            self._shapers[d].impairment = getattr(spec, d)
        change = ImpairmentChanged(spec, time.monotonic())
        self.changes.append(change)
        logger.info("impairment now %s", spec.describe())
        for listener in list(self.listeners):
            listener(change)

    def update(self, text: str) -> ImpairmentSpec:
        """Apply ``text`` on top of the current figures (``up.loss=0`` clears one)."""
        text = expand_preset(text)
        delta = ImpairmentSpec.parse(text)
        merged = {}
        for d in DIRECTIONS:
            current, new = getattr(self.spec, d), getattr(delta, d)
            changed = {k: v for k, v in vars(new).items() if v != getattr(Impairment(), k) or _names(text, d, k)}
            merged[d] = replace(current, **changed)
        spec = ImpairmentSpec(**merged)
        self.set(spec)
        return spec

    async def rewrite_offer(self, sdp: str) -> str:
        """The offer as the peer should see it: our UDP candidates replaced by stand-ins,
        so the peer can reach us only through the relay."""
        return await self._rewrite(sdp, "local", self._local)

    async def rewrite_answer(self, sdp: str) -> str:
        """The answer as we apply it: their UDP candidates replaced by stand-ins."""
        return await self._rewrite(sdp, "remote", self._remote)

    async def _rewrite(self, sdp: str, side: str, table: dict[tuple[str, int], _Socket]) -> str:
        sep = "\r\n" if "\r\n" in sdp else "\n"
        out = []
        for line in sdp.split(sep):
            candidate = parse_candidate_line(line)
            if candidate is not None:
                if candidate.transport != "udp":
                    # TCP would bypass the impairment; drop it from what the other side learns
                    logger.info("impairment relay drops TCP candidate %s:%s", candidate.address, candidate.port)
                    continue
                address, port = await self._stand_in(side, table, (candidate.address, candidate.port))
                parts = line.split()  # the line as it was, but for the address and port
                parts[4], parts[5] = address, str(port)
                line = " ".join(parts)
            out.append(line)
        return sep.join(out)

    async def remote_candidate(self, address: str, port: int) -> tuple[str, int]:
        """The stand-in for a remote UDP candidate that trickled in after the answer."""
        return await self._stand_in("remote", self._remote, (address, port))

    async def _stand_in(
        self, side: str, table: dict[tuple[str, int], _Socket], real: tuple[str, int]
    ) -> tuple[str, int]:
        if real not in table:
            _, sock = await asyncio.get_running_loop().create_datagram_endpoint(
                lambda: _Socket(self, side, real), local_addr=(self.host, 0)
            )
            table[real] = sock
        return table[real].address

    def _received(self, sock: _Socket, data: bytes, addr: tuple[str, int]) -> None:
        if sock.side == "remote":
            # from us, to the candidate this socket stands in for; it must leave from
            # the stand-in of the candidate it came from, so the peer sees a known address
            out = self._local.get(addr) or self._first(self._local)
            if out is not None:
                self._forward("up", data, lambda d: out.sendto(d, sock.real))
        else:
            out = self._remote.get(addr) or self._first(self._remote)
            if out is not None:
                self._forward("down", data, lambda d: out.sendto(d, sock.real))

    @staticmethod
    def _first(table: dict[tuple[str, int], _Socket]) -> _Socket | None:
        return next(iter(table.values()), None)

    def _forward(self, direction: str, data: bytes, send: Any) -> None:
        shaper = self._shapers[direction]
        counters = shaper.counters
        counters.received += 1
        media = _is_rtp_or_rtcp(data)
        rtp = media and not _is_rtcp(data)
        counters.rtp_received += rtp
        if media and shaper.lose():
            counters.dropped_loss += 1
            counters.rtp_dropped += rtp
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        leave = shaper.departure(now, len(data))
        if leave is None:
            counters.dropped_queue += 1
            counters.rtp_dropped += rtp
            return

        def deliver() -> None:
            shaper.counters.forwarded += 1
            shaper.counters.held_ms_total += (loop.time() - now) * 1000.0
            try:
                send(data)
            except OSError as exc:
                logger.debug("relay send failed: %s", exc)

        if leave <= now:
            deliver()
        else:
            self._timers.append(loop.call_at(leave, deliver))
            while self._timers and self._timers[0].when() < now:
                self._timers.popleft()

    def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for sock in (*self._local.values(), *self._remote.values()):
            if sock.transport is not None:
                sock.transport.close()
        self._local.clear()
        self._remote.clear()

    def to_json(self) -> dict[str, Any]:
        return {
            "spec": {"up": vars(self.spec.up), "down": vars(self.spec.down)},
            "counters": {d: {**c.to_json(), "rtp_loss_pct": _round(c.rtp_loss_pct)} for d, c in self.counters.items()},
            "changes": len(self.changes),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _names(text: str, direction: str, key: str) -> bool:
    """Whether ``text`` sets ``key`` for ``direction`` explicitly (even to its default)."""
    name = {"loss_pct": "loss", "delay_ms": "delay", "jitter_ms": "jitter", "rate_kbps": "rate"}.get(key, key)
    return bool(re.search(rf"(^|,)\s*({direction}\.)?{name}\s*=", text, re.I))


def _is_rtcp(data: bytes) -> bool:
    """RFC 5761: with rtcp-mux, packet types 192–223 in the second byte are RTCP."""
    return len(data) > 1 and 192 <= data[1] <= 223


def _is_rtp_or_rtcp(data: bytes) -> bool:
    """Only media is lost: STUN (consent checks) and DTLS get through, as they would
    through netem on a path whose loss a test wants to read back as RTP loss.
    RFC 7983: first byte 128–191 is RTP/RTCP."""
    return bool(data) and 128 <= data[0] <= 191
