"""Structural diff of two SDPs: by section (matched by mid, else by position) and attribute.

A text diff of two offers is mostly noise: candidates, ports and ids move while the
negotiation stays the same, and attribute order means nothing. Here each line gets a
*key* that says what it is (``rtpmap:111``, ``extmap:3``, ``candidate udp 10.0.0.1:5000
host 1``, ``direction``); a key on both sides with another value is *changed*, a key on
one side only is *added* or *removed*. ``volatile=False`` drops what changes on every
call (o= ids, ICE credentials, fingerprints, candidates, ports, SSRCs, msid).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from voicedesk.rtc.sdp.model import DIRECTIONS, MediaSection, SdpLine, SessionDescription, parse_candidate

VOLATILE_KEYS = (
    "o",
    "ice-ufrag",
    "ice-pwd",
    "fingerprint",
    "candidate",
    "ssrc",
    "msid",
    "msid-semantic",
    "c",
    "rtcp",
    "m port",
    "end-of-candidates",
    "ssrc-group",
)


@dataclass(frozen=True)
class Change:
    section: str  # "session" or e.g. "audio (mid 0)"
    change: str  # "added" / "removed" / "changed"
    key: str
    old: str | None
    new: str | None
    line_a: int | None
    line_b: int | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def diff(a: SessionDescription, b: SessionDescription, *, volatile: bool = True) -> list[Change]:
    """Changes from ``a`` to ``b``; with ``volatile=False`` per-call noise is left out."""
    changes = _diff_entries("session", _session_entries(a), _session_entries(b), volatile)
    pairs, only_a, only_b = _match_sections(a.media, b.media)
    for ma, mb in pairs:
        name = _section_name(mb)
        changes += _diff_m_line(name, ma, mb, volatile)
        changes += _diff_entries(name, _media_entries(a, ma), _media_entries(b, mb), volatile)
    for m in only_a:
        changes.append(Change(_section_name(m), "removed", "section", a.line(m.line).text, None, m.line, None))
    for m in only_b:
        changes.append(Change(_section_name(m), "added", "section", None, b.line(m.line).text, None, m.line))
    return changes


def _section_name(media: MediaSection) -> str:
    return f"{media.kind} ({'mid ' + media.mid if media.mid is not None else f'm-section {media.index}'})"


def _match_sections(
    a: list[MediaSection], b: list[MediaSection]
) -> tuple[list[tuple[MediaSection, MediaSection]], list[MediaSection], list[MediaSection]]:
    if all(m.mid is not None for m in a + b):
        by_mid = {m.mid: m for m in b}
        pairs = [(m, by_mid[m.mid]) for m in a if m.mid in by_mid]
        matched = {id(mb) for _, mb in pairs}
        return pairs, [m for m in a if m.mid not in by_mid], [m for m in b if id(m) not in matched]
    n = min(len(a), len(b))
    return list(zip(a[:n], b[:n], strict=True)), a[n:], b[n:]


Entry = tuple[str, str, int]  # key, value, line


def _line_key(line: SdpLine) -> tuple[str, str]:
    if line.type != "a":
        if line.type == "b":
            bwtype, _, value = line.value.partition(":")
            return f"b={bwtype}", value
        return line.type, line.value
    name, maybe_value = line.attribute
    value = maybe_value if maybe_value is not None else ""
    if name in DIRECTIONS:
        return "direction", name
    if name in ("rtpmap", "fmtp"):
        pt, _, rest = value.partition(" ")
        return f"{name}:{pt}", rest
    if name == "rtcp-fb":
        return f"rtcp-fb:{value}", ""
    if name == "extmap":
        ident, _, rest = value.partition(" ")
        return f"extmap:{ident.split('/')[0]}", value
    if name == "fingerprint":
        algorithm, _, digest = value.partition(" ")
        return f"fingerprint:{algorithm.lower()}", digest
    if name == "group":
        semantics, _, mids = value.partition(" ")
        return f"group:{semantics}", mids
    if name == "ssrc":
        ssrc, _, rest = value.partition(" ")
        attr, _, attr_value = rest.partition(":")
        return f"ssrc:{ssrc} {attr}", attr_value
    if name == "candidate":
        try:
            c = parse_candidate(value)
        except ValueError:
            return f"candidate {value}", ""
        extra = " ".join(f"{k} {v}" for k, v in c.extensions.items())
        related = f" raddr {c.related_address} rport {c.related_port}" if c.related_address else ""
        return (
            f"candidate {c.transport} {c.address}:{c.port} {c.type} {c.component}",
            f"foundation {c.foundation} priority {c.priority}{related}{' ' + extra if extra else ''}",
        )
    return name, value


def _entries(desc: SessionDescription, first: int, last: int) -> list[Entry]:
    out = []
    for line in desc.lines[first - 1 : last]:
        if line.type and line.type not in "vm":
            key, value = _line_key(line)
            out.append((key, value, line.number))
    return out


def _session_entries(desc: SessionDescription) -> list[Entry]:
    end = desc.media[0].line - 1 if desc.media else len(desc.lines)
    return _entries(desc, 1, end)


def _media_entries(desc: SessionDescription, media: MediaSection) -> list[Entry]:
    return _entries(desc, media.line + 1, media.last_line)


def _is_volatile(key: str) -> bool:
    head = key.split(":")[0].split(" ")[0]
    return head in VOLATILE_KEYS or key in VOLATILE_KEYS


def _diff_m_line(name: str, a: MediaSection, b: MediaSection, volatile: bool) -> list[Change]:
    changes = []
    for key, old, new in (
        ("m port", str(a.port), str(b.port)),
        ("m proto", a.proto, b.proto),
        ("m formats", " ".join(a.formats), " ".join(b.formats)),
    ):
        if old != new and (volatile or not _is_volatile(key)):
            changes.append(Change(name, "changed", key, old, new, a.line, b.line))
    return changes


def _diff_entries(section: str, a: list[Entry], b: list[Entry], volatile: bool) -> list[Change]:
    by_a: dict[str, list[tuple[str, int]]] = defaultdict(list)
    by_b: dict[str, list[tuple[str, int]]] = defaultdict(list)
    order: list[str] = []
    for key, value, line in a:
        by_a[key].append((value, line))
        if key not in order:
            order.append(key)
    for key, value, line in b:
        by_b[key].append((value, line))
        if key not in order:
            order.append(key)
    changes: list[Change] = []
    for key in order:
        if not volatile and _is_volatile(key):
            continue
        old, new = by_a.get(key, []), by_b.get(key, [])
        if len(old) == 1 and len(new) == 1:
            if old[0][0] != new[0][0]:
                changes.append(Change(section, "changed", key, old[0][0], new[0][0], old[0][1], new[0][1]))
            continue
        new_values = [v for v, _ in new]
        old_values = [v for v, _ in old]
        for value, line in old:
            if value in new_values:
                new_values.remove(value)
            else:
                changes.append(Change(section, "removed", key, value, None, line, None))
        for value, line in new:
            if value in old_values:
                old_values.remove(value)
            else:
                changes.append(Change(section, "added", key, None, value, None, line))
    return changes


def format_diff(changes: list[Change], name_a: str = "a", name_b: str = "b") -> str:
    if not changes:
        return "no structural differences"
    lines: list[str] = []
    current = None
    for c in changes:
        if c.section != current:
            current = c.section
            lines.append(current)
        if c.change == "changed":
            lines.append(f"  ~ {c.key}: {_show(c.old)} -> {_show(c.new)}  ({name_a}:{c.line_a}, {name_b}:{c.line_b})")
        elif c.change == "removed":
            lines.append(f"  - {c.key}{_tail(c.old)}  ({name_a}:{c.line_a})")
        else:
            lines.append(f"  + {c.key}{_tail(c.new)}  ({name_b}:{c.line_b})")
    return "\n".join(lines)


def _show(value: str | None) -> str:
    return "(flag)" if value == "" else str(value)


def _tail(value: str | None) -> str:
    return f" {value}" if value else ""
