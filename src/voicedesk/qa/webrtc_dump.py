"""chrome://webrtc-internals dumps: read one into StatsSample series, write one from a call.

Chrome's "Create dump" writes (gzip-compressed when "Compress result" is ticked)::

    {"getUserMedia": [...], "PeerConnections": {"PID-LID": {"url", "rtcConfiguration",
      "updateLog": [{"time", "type", "value"}], "stats": {"STATSID-ATTR": {"startTime", "endTime",
      "statsType", "values": "[json array as a string]"}}}}, "UserAgent": "..."}

Each stats object has its own ``STATSID-timestamp`` series (ms since the epoch); the
attribute series of that object line up with it from the end (the page keeps the
last N values of each). Derived series Chrome adds (``STATSID-[bytesSent_in_bits/s]``)
are ignored: the numbers here are computed the same way as for our own calls
(``rtc/stats.py``), so a customer's dump and a VoiceDesk call plot the same things.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voicedesk.errors import VoiceDeskError
from voicedesk.rtc.stats import StatsSample, finish_sample

logger = logging.getLogger(__name__)


class DumpError(VoiceDeskError):
    """A file that is not (or not a usable) chrome://webrtc-internals dump."""


@dataclass(frozen=True)
class DumpConnection:
    """One peer connection of a dump, with its normalized series."""

    key: str
    url: str
    rtc_configuration: str
    samples: tuple[StatsSample, ...]
    stats_types: tuple[str, ...]
    update_log: tuple[dict[str, Any], ...] = ()
    started_at_ms: float | None = None  # epoch ms of the first sample

    @property
    def label(self) -> str:
        return f"{self.key} {self.url}".strip()


@dataclass(frozen=True)
class WebrtcDump:
    path: str
    user_agent: str
    connections: tuple[DumpConnection, ...] = field(default_factory=tuple)

    def connection(self, key: str | None = None) -> DumpConnection:
        """The connection ``key`` (or its index), or the one with the most samples."""
        if not self.connections:
            raise DumpError(f"{self.path}: the dump holds no peer connection")
        if key is None:
            return max(self.connections, key=lambda c: len(c.samples))
        for i, conn in enumerate(self.connections):
            if conn.key == key or str(i) == key:
                return conn
        raise DumpError(f"{self.path}: no peer connection {key!r}; it has {', '.join(c.key for c in self.connections)}")


def read_dump(path: str | Path) -> WebrtcDump:
    """Read a webrtc-internals dump (plain or gzip); DumpError says why a file is not one."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DumpError(f"cannot read {path}: {exc.strerror or exc}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DumpError(f"{path} is a damaged gzip file: {exc}") from None
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DumpError(
            f"{path} is not a chrome://webrtc-internals dump: it is not JSON "
            '(make one in chrome://webrtc-internals with "Create a WebRTC-Internals dump")'
        ) from None
    return parse_dump(data, str(path))


def parse_dump(data: Any, name: str = "dump") -> WebrtcDump:
    if not isinstance(data, dict) or not isinstance(data.get("PeerConnections"), dict):
        found = ", ".join(sorted(data)[:6]) if isinstance(data, dict) else type(data).__name__
        raise DumpError(
            f'{name} is not a chrome://webrtc-internals dump: it has no "PeerConnections" object '
            f"(found: {found or 'nothing'})"
        )
    connections = []
    for key, pc in data["PeerConnections"].items():
        if not isinstance(pc, dict):
            continue
        stats = pc.get("stats", {})
        if not isinstance(stats, dict):
            # read as no stats, this would report "0 samples" as if the call had none
            raise DumpError(
                f'{name}: connection {key} has "stats" that is not an object but {_json_kind(stats)}: '
                "the dump is damaged or not from chrome://webrtc-internals"
            )
        samples, started = _samples_from_stats(stats)
        connections.append(
            DumpConnection(
                key=str(key),
                url=str(pc.get("url", "")),
                rtc_configuration=str(pc.get("rtcConfiguration", "")),
                samples=tuple(samples),
                stats_types=tuple(sorted({s.get("statsType", "") for s in stats.values() if isinstance(s, dict)})),
                update_log=tuple(u for u in pc.get("updateLog", []) if isinstance(u, dict)),
                started_at_ms=started,
            )
        )
    return WebrtcDump(path=name, user_agent=str(data.get("UserAgent", "")), connections=tuple(connections))


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    return "text" if isinstance(value, str) else "a list"


# --- reading ---------------------------------------------------------------
def _series(stats: dict[str, Any]) -> dict[str, dict[str, tuple[str, list[Any]]]]:
    """STATSID -> attribute -> (statsType, values)."""
    by_id: dict[str, dict[str, tuple[str, list[Any]]]] = {}
    for name, entry in stats.items():
        if not isinstance(entry, dict) or "-" not in name or "[" in name:
            continue
        stat_id, attr = name.rsplit("-", 1)
        values = entry.get("values")
        if isinstance(values, str):
            try:
                values = json.loads(values)
            except json.JSONDecodeError:
                continue
        if isinstance(values, list):
            by_id.setdefault(stat_id, {})[attr] = (str(entry.get("statsType", "")), values)
    return by_id


def _objects(by_id: dict[str, dict[str, tuple[str, list[Any]]]], stats_type: str) -> list[dict[str, list[Any]]]:
    found = []
    for attrs in by_id.values():
        types = {t for t, _ in attrs.values()}
        if stats_type not in types:
            continue
        kind = attrs.get("kind", ("", []))[1]
        if kind and kind[-1] != "audio":
            continue
        found.append({a: v for a, (_, v) in attrs.items()})
    return found


def _at(series: list[Any] | None, times: list[float], t: float) -> Any:
    """The value of ``series`` (aligned to ``times`` from the end) at time ``t`` or just before."""
    if not series or not times:
        return None
    offset = len(times) - len(series)  # series may be shorter: align the newest values
    best = None
    for i, when in enumerate(times):
        j = i - offset
        if when > t + 1e-6:
            break
        if 0 <= j < len(series):
            best = series[j]
    return best


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _sum(objects: list[dict[str, list[Any]]], attr: str, t: float) -> float | None:
    values = [_num(_at(o.get(attr), o.get("timestamp", []), t)) for o in objects]
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _max(objects: list[dict[str, list[Any]]], attr: str, t: float) -> float | None:
    values = [_num(_at(o.get(attr), o.get("timestamp", []), t)) for o in objects]
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _samples_from_stats(stats: dict[str, Any]) -> tuple[list[StatsSample], float | None]:
    by_id = _series(stats)
    inbound = _objects(by_id, "inbound-rtp")
    outbound = _objects(by_id, "outbound-rtp")
    remote_in = _objects(by_id, "remote-inbound-rtp")
    transports = _objects(by_id, "transport")
    pairs = [p for p in _objects(by_id, "candidate-pair") if p.get("nominated") and p["nominated"][-1]]
    clock = inbound or outbound or transports
    times = sorted({float(t) for o in clock for t in o.get("timestamp", []) if _num(t) is not None})
    if not times:
        return [], None
    t0 = times[0]
    samples: list[StatsSample] = []
    previous: StatsSample | None = None
    for t in times:
        fields: dict[str, Any] = {}
        received = _sum(inbound, "packetsReceived", t)
        lost = _sum(inbound, "packetsLost", t)
        if received is not None:
            lost = max(0.0, lost or 0.0)
            fields["packets_received"] = int(received)
            fields["packets_lost"] = int(lost)
            fields["loss_pct"] = 100.0 * lost / (received + lost) if received + lost else 0.0
        jitter = _max(inbound, "jitter", t)
        if jitter is not None:
            fields["jitter_ms"] = jitter * 1000.0  # standard stats: seconds
        sent = _sum(outbound, "packetsSent", t)
        if sent is not None:
            fields["packets_sent"] = int(sent)
        bytes_sent = _sum(outbound, "bytesSent", t)
        if bytes_sent is not None:
            fields["bytes_sent"] = int(bytes_sent)
        rtt = _max(remote_in, "roundTripTime", t)
        if rtt is None:
            rtt = _max(pairs, "currentRoundTripTime", t)
        if rtt is not None:
            fields["rtt_ms"] = rtt * 1000.0
        fraction = _max(remote_in, "fractionLost", t)
        if fraction is not None:
            fields["remote_loss_pct"] = 100.0 * fraction
        remote_jitter = _max(remote_in, "jitter", t)
        if remote_jitter is not None:
            fields["remote_jitter_ms"] = remote_jitter * 1000.0
        bytes_received = _sum(transports, "bytesReceived", t)
        if bytes_received is not None:
            fields["bytes_received"] = int(bytes_received)
        previous = finish_sample(fields, t - t0, previous)
        samples.append(previous)
    return samples, t0


# --- writing ---------------------------------------------------------------
def _iso(epoch_ms: float) -> str:
    return (
        datetime.fromtimestamp(epoch_ms / 1000.0, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(epoch_ms % 1000):03d}Z"
    )


def _entry(stats_type: str, times: list[float], values: list[Any]) -> dict[str, Any]:
    return {
        "startTime": _iso(times[0]),
        "endTime": _iso(times[-1]),
        "statsType": stats_type,
        "values": json.dumps(values, separators=(",", ":")),
    }


# our sample fields -> (stats id, stats type, attribute, scale to Chrome's unit)
_EXPORT: tuple[tuple[str, str, str, str, float], ...] = (
    ("packets_received", "IT01A", "inbound-rtp", "packetsReceived", 1.0),
    ("packets_lost", "IT01A", "inbound-rtp", "packetsLost", 1.0),
    ("jitter_ms", "IT01A", "inbound-rtp", "jitter", 0.001),
    ("packets_sent", "OT01A", "outbound-rtp", "packetsSent", 1.0),
    ("bytes_sent", "OT01A", "outbound-rtp", "bytesSent", 1.0),
    ("rtt_ms", "RIA", "remote-inbound-rtp", "roundTripTime", 0.001),
    ("remote_loss_pct", "RIA", "remote-inbound-rtp", "fractionLost", 0.01),
    ("remote_jitter_ms", "RIA", "remote-inbound-rtp", "jitter", 0.001),
    ("bytes_received", "T01", "transport", "bytesReceived", 1.0),
)


def build_dump(
    samples: Iterable[StatsSample],
    *,
    started_at_ms: float,
    url: str,
    rtc_configuration: dict[str, Any] | None = None,
    update_log: Iterable[dict[str, Any]] = (),
    user_agent: str = "VoiceDesk",
) -> dict[str, Any]:
    """A webrtc-internals-shaped dump of one call (its StatsSample series), for existing dump viewers.

    ``started_at_ms`` is the epoch time of the call's t_ms = 0. Only numbers VoiceDesk measured
    are written (a field that was None in every sample is left out), so a viewer shows no invented
    values; ``read_dump`` of the result gives the same series back."""
    samples = list(samples)
    stats: dict[str, Any] = {}
    if samples:
        objects: dict[str, tuple[str, list[float]]] = {}
        for field_name, stat_id, stats_type, attr, scale in _EXPORT:
            present = [(s.t_ms, getattr(s, field_name)) for s in samples if getattr(s, field_name) is not None]
            if not present:
                continue
            times = [started_at_ms + t for t, _ in present]
            values = [v * scale if scale != 1.0 else v for _, v in present]
            stats[f"{stat_id}-{attr}"] = _entry(stats_type, times, values)
            known = objects.get(stat_id)
            if known is None or len(known[1]) < len(times):
                objects[stat_id] = (stats_type, times)
        for stat_id, (stats_type, times) in objects.items():
            stats[f"{stat_id}-timestamp"] = _entry(stats_type, times, times)
            stats[f"{stat_id}-type"] = _entry(stats_type, times, [stats_type] * len(times))
            if stats_type in ("inbound-rtp", "outbound-rtp", "remote-inbound-rtp"):
                stats[f"{stat_id}-kind"] = _entry(stats_type, times, ["audio"] * len(times))
    return {
        "getUserMedia": [],
        "PeerConnections": {
            "voicedesk-1": {
                "pid": 0,
                "rtcConfiguration": json.dumps(rtc_configuration or {}),
                "stats": stats,
                "updateLog": list(update_log),
                "url": url,
            }
        },
        "UserAgent": user_agent,
    }
