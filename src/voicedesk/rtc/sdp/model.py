"""SDP text -> a structured model that keeps every line, and back, byte for byte.

The model is a *reading* of the text, not a replacement for it: ``SessionDescription.lines``
holds every line as written (its text, its own line ending, its number), and
``to_text()`` joins them again, so ``parse(text).to_text() == text`` for anything
``parse`` accepts — CRLF or LF or a mix, a missing final newline, blank lines,
attributes nobody here knows. Edits are made to the text; the model is re-read.

``parse`` refuses only what is not SDP at all (no ``v=`` first, a line that is not
``x=value``, an ``m=`` line without port/proto/formats) with an ``SdpError`` that
names the line. Everything else that is wrong inside a value (a rtpmap without a
clock rate, a candidate with four fields) is kept and listed in ``problems`` for
the linter to report with its line number: one pass shows every mistake at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from voicedesk.errors import SdpError

# \r\n first so that a CRLF is one ending; a lone \r ends a line too (old Mac files)
_LINE_RE = re.compile(r"([^\r\n]*)(\r\n|\n|\r|$)")
_TYPE_RE = re.compile(r"^([a-zA-Z])=")
SESSION_TYPES = "vosiuepcbtrzka"
MEDIA_TYPES = "micbka"
KNOWN_TYPES = set(SESSION_TYPES + "m")
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
DYNAMIC_PT = range(96, 128)
# RFC 3551 static payload types a voice engineer meets (name, clock rate, channels)
STATIC_PT: dict[int, tuple[str, int, int]] = {
    0: ("PCMU", 8000, 1),
    3: ("GSM", 8000, 1),
    4: ("G723", 8000, 1),
    5: ("DVI4", 8000, 1),
    6: ("DVI4", 16000, 1),
    7: ("LPC", 8000, 1),
    8: ("PCMA", 8000, 1),
    9: ("G722", 8000, 1),
    10: ("L16", 44100, 2),
    11: ("L16", 44100, 1),
    12: ("QCELP", 8000, 1),
    13: ("CN", 8000, 1),
    14: ("MPA", 90000, 1),
    15: ("G728", 8000, 1),
    16: ("DVI4", 11025, 1),
    17: ("DVI4", 22050, 1),
    18: ("G729", 8000, 1),
    25: ("CelB", 90000, 1),
    26: ("JPEG", 90000, 1),
    28: ("nv", 90000, 1),
    31: ("H261", 90000, 1),
    32: ("MPV", 90000, 1),
    33: ("MP2T", 90000, 1),
    34: ("H263", 90000, 1),
}


@dataclass
class SdpLine:
    """One line as written. ``text`` has no line ending; ``ending`` is "\\r\\n", "\\n", "\\r" or ""."""

    number: int
    text: str
    ending: str

    @property
    def type(self) -> str:
        """The type letter ("a", "m", …), or "" for a blank line."""
        return self.text[0] if len(self.text) >= 2 and self.text[1] == "=" else ""

    @property
    def value(self) -> str:
        return self.text[2:] if self.type else self.text

    @property
    def attribute(self) -> tuple[str, str | None]:
        """For ``a=name:value`` lines: (name, value); a flag attribute has value None."""
        name, sep, value = self.value.partition(":")
        return name, (value if sep else None)


@dataclass
class Problem:
    """Something the reader met that the linter reports under ``rule`` (``malformed-line`` unless said)."""

    line: int
    message: str
    rule: str = "malformed-line"


@dataclass
class Attribute:
    name: str
    value: str | None
    line: int


@dataclass
class Codec:
    payload_type: int
    name: str | None = None  # from a=rtpmap, or the RFC 3551 name of a static payload type
    clock_rate: int | None = None
    channels: int | None = None
    fmtp: dict[str, str] = field(default_factory=dict)
    fmtp_text: str | None = None
    rtcp_fb: list[str] = field(default_factory=list)
    rtpmap_line: int | None = None
    fmtp_line: int | None = None

    @property
    def is_dynamic(self) -> bool:
        return self.payload_type in DYNAMIC_PT

    @property
    def key(self) -> tuple[str, int | None, int]:
        """What makes two codecs the same across an offer and an answer (not the payload type)."""
        return ((self.name or f"pt{self.payload_type}").lower(), self.clock_rate, self.channels or 1)

    def describe(self) -> str:
        if self.name is None:
            return f"PT {self.payload_type} (no rtpmap)"
        text = f"{self.name}/{self.clock_rate}"
        if self.channels and self.channels != 1:
            text += f"/{self.channels}"
        return text


@dataclass
class Candidate:
    foundation: str
    component: int
    transport: str
    priority: int
    address: str
    port: int
    type: str
    related_address: str | None = None
    related_port: int | None = None
    extensions: dict[str, str] = field(default_factory=dict)
    line: int = 0


@dataclass
class Fingerprint:
    algorithm: str
    value: str
    line: int


@dataclass
class Extmap:
    id: int
    direction: str | None
    uri: str
    line: int


@dataclass
class Group:
    semantics: str
    mids: list[str]
    line: int


@dataclass
class Origin:
    username: str
    session_id: str
    session_version: str
    nettype: str
    addrtype: str
    address: str
    line: int


@dataclass
class _Common:
    """What can appear at session level and in a media section (ICE, DTLS, direction)."""

    attributes: list[Attribute] = field(default_factory=list)
    ice_ufrag: str | None = None
    ice_ufrag_line: int | None = None
    ice_pwd: str | None = None
    ice_pwd_line: int | None = None
    ice_options: list[str] = field(default_factory=list)
    ice_lite: bool = False
    ice_lite_line: int | None = None
    fingerprints: list[Fingerprint] = field(default_factory=list)
    setup: str | None = None
    setup_line: int | None = None
    direction: str | None = None
    direction_line: int | None = None
    connection: str | None = None
    connection_line: int | None = None
    extmaps: list[Extmap] = field(default_factory=list)

    def attribute(self, name: str) -> list[Attribute]:
        return [a for a in self.attributes if a.name == name]

    def has(self, name: str) -> bool:
        return any(a.name == name for a in self.attributes)


@dataclass
class MediaSection(_Common):
    index: int = 0
    kind: str = ""
    port: int = 0
    port_count: int | None = None
    proto: str = ""
    formats: list[str] = field(default_factory=list)
    line: int = 0  # the m= line
    last_line: int = 0
    mid: str | None = None
    mid_line: int | None = None
    codecs: dict[int, Codec] = field(default_factory=dict)  # m= line order
    ptime: float | None = None
    ptime_line: int | None = None
    maxptime: float | None = None
    maxptime_line: int | None = None
    rtcp_mux: bool = False
    rtcp_rsize: bool = False
    candidates: list[Candidate] = field(default_factory=list)
    end_of_candidates: bool = False
    ssrcs: dict[int, dict[str, str]] = field(default_factory=dict)
    msid: str | None = None
    # rtpmap/fmtp/rtcp-fb for payload types the m= line does not list
    orphan_codecs: dict[int, Codec] = field(default_factory=dict)

    @property
    def rejected(self) -> bool:
        """Port 0 in an answer (or offer) rejects the section (unless it is bundle-only)."""
        return self.port == 0 and not self.has("bundle-only")

    @property
    def is_rtp(self) -> bool:
        return "RTP" in self.proto.upper()

    @property
    def payload_types(self) -> list[int]:
        return [int(f) for f in self.formats if is_number(f)]

    def label(self) -> str:
        return f"m-section {self.index} ({self.kind}{'' if self.mid is None else f', mid {self.mid}'})"


@dataclass
class SessionDescription(_Common):
    lines: list[SdpLine] = field(default_factory=list)
    origin: Origin | None = None
    session_name: str | None = None
    timing: str | None = None
    groups: list[Group] = field(default_factory=list)
    media: list[MediaSection] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    session_last_line: int = 0

    def to_text(self) -> str:
        """The text this was read from, byte for byte."""
        return "".join(line.text + line.ending for line in self.lines)

    def line(self, number: int) -> SdpLine:
        return self.lines[number - 1]

    def bundle_groups(self) -> list[Group]:
        return [g for g in self.groups if g.semantics.upper() == "BUNDLE"]

    # effective values: a media section inherits what the session level says
    def ice_ufrag_of(self, media: MediaSection) -> tuple[str | None, int | None]:
        if media.ice_ufrag is not None:
            return media.ice_ufrag, media.ice_ufrag_line
        return self.ice_ufrag, self.ice_ufrag_line

    def ice_pwd_of(self, media: MediaSection) -> tuple[str | None, int | None]:
        if media.ice_pwd is not None:
            return media.ice_pwd, media.ice_pwd_line
        return self.ice_pwd, self.ice_pwd_line

    def fingerprints_of(self, media: MediaSection) -> list[Fingerprint]:
        return media.fingerprints or self.fingerprints

    def setup_of(self, media: MediaSection) -> tuple[str | None, int | None]:
        if media.setup is not None:
            return media.setup, media.setup_line
        return self.setup, self.setup_line

    def direction_of(self, media: MediaSection) -> str:
        """sendrecv when neither the section nor the session says (RFC 4566)."""
        return media.direction or self.direction or "sendrecv"

    def ice_options_of(self, media: MediaSection) -> list[str]:
        return media.ice_options or self.ice_options


def is_number(text: str) -> bool:
    """ASCII digits only: int() also takes "²"-like digits and "1_0", which SDP does not."""
    return text.isascii() and text.isdigit()


def _int(text: str) -> int:
    if not is_number(text.lstrip("-")) or text.count("-") > 1:
        raise ValueError(text)
    return int(text)


def split_lines(text: str) -> list[SdpLine]:
    lines: list[SdpLine] = []
    for match in _LINE_RE.finditer(text):
        body, ending = match.group(1), match.group(2)
        if not body and not ending:
            break  # the empty match at the very end
        lines.append(SdpLine(len(lines) + 1, body, ending))
    return lines


def parse(text: str) -> SessionDescription:
    """Read SDP text. Raises ``SdpError`` ("line N: …") when it is not SDP at all."""
    if not isinstance(text, str):
        raise SdpError("SDP must be text")
    if not text.strip():
        raise SdpError("the SDP is empty")
    lines = split_lines(text)
    desc = SessionDescription(lines=lines)
    first = next((line for line in lines if line.text.strip()), None)
    if first is not None and first.text.startswith("\ufeff"):
        raise SdpError(f"line {first.number}: the text starts with a byte-order mark (BOM): save it without one")
    if first is None or first.text.rstrip(" \t") != "v=0":  # trailing blanks: a lint finding, not "not SDP"
        shown = _shorten(first.text if first else "")
        raise SdpError(f"line {first.number if first else 1}: not SDP: an SDP starts with 'v=0', found '{shown}'")
    for line in lines:
        if not line.text:
            continue
        if not _TYPE_RE.match(line.text):
            raise SdpError(
                f"line {line.number}: not an SDP line (SDP lines look like 'x=value'): '{_shorten(line.text)}'"
            )
    _Reader(desc).read()
    return desc


def parse_bytes(data: bytes) -> SessionDescription:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SdpError(f"line {line}: not SDP: the text is not UTF-8 (byte {exc.start})") from None
    return parse(text)


def _shorten(text: str, limit: int = 60) -> str:
    text = text.replace("\t", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_candidate(value: str, line: int = 0) -> Candidate:
    """``foundation component transport priority address port typ TYPE [raddr A rport P] [k v]…``.

    Raises ValueError with a reason (callers turn it into a Problem).
    """
    parts = value.split()
    if len(parts) < 8:
        raise ValueError(f"a candidate needs at least 8 fields, found {len(parts)}")
    if parts[6] != "typ":
        raise ValueError(f"the 7th field of a candidate must be 'typ', found '{parts[6]}'")
    try:
        component = _int(parts[1])
        priority = _int(parts[3])
        port = _int(parts[5])
    except ValueError:
        raise ValueError("component, priority and port of a candidate must be numbers") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"candidate port {port} is outside 0-65535")
    extensions: dict[str, str] = {}
    rest = parts[8:]
    for i in range(0, len(rest) - 1, 2):
        extensions[rest[i]] = rest[i + 1]
    if len(rest) % 2:
        raise ValueError(f"candidate extension '{rest[-1]}' has no value")
    related_port = extensions.pop("rport", None)
    try:
        rport = _int(related_port) if related_port is not None else None
    except ValueError:
        raise ValueError(f"candidate rport '{related_port}' is not a number") from None
    return Candidate(
        foundation=parts[0],
        component=component,
        transport=parts[2].lower(),
        priority=priority,
        address=parts[4],
        port=port,
        type=parts[7],
        related_address=extensions.pop("raddr", None),
        related_port=rport,
        extensions=extensions,
        line=line,
    )


CANDIDATE_PREFIX = "a=candidate:"


def parse_candidate_line(line: str, number: int = 0) -> Candidate | None:
    """The candidate of one ``a=candidate:`` line; None for any other line or a bad candidate.

    For readers that show or use what they can (the call, the ICE notes, the relay, the
    window): a bad line is the linter's to report, not theirs to fail on.
    """
    if not line.startswith(CANDIDATE_PREFIX):
        return None
    try:
        return parse_candidate(line[len(CANDIDATE_PREFIX) :], number)
    except ValueError:
        return None


def sdp_candidates(sdp: str | None) -> list[Candidate]:
    """The valid candidates of an SDP text, in order, each with its line number; bad lines are passed over."""
    found = []
    for number, line in enumerate((sdp or "").splitlines(), 1):
        candidate = parse_candidate_line(line, number)
        if candidate is not None:
            found.append(candidate)
    return found


class _Reader:
    def __init__(self, desc: SessionDescription) -> None:
        self.desc = desc

    def problem(self, line: SdpLine, message: str, rule: str = "malformed-line") -> None:
        self.desc.problems.append(Problem(line.number, message, rule))

    def read(self) -> None:
        desc = self.desc
        current: _Common = desc
        media: MediaSection | None = None
        for line in desc.lines:
            kind = line.type
            if not kind:
                continue
            if kind == "m":
                media = self.read_m_line(line, len(desc.media))
                desc.media.append(media)
                current = media
                continue
            if media is None:
                desc.session_last_line = line.number
            else:
                media.last_line = line.number
            if kind == "o" and media is None:
                self.read_origin(line)
            elif kind == "s" and media is None:
                desc.session_name = line.value
            elif kind == "t" and media is None:
                desc.timing = line.value
            elif kind == "c":
                fields = len(line.value.split())
                if fields != 3:  # aiortc asserts on it: say which line, not "AssertionError"
                    self.problem(line, f"c= needs 3 fields (IN IP4 address), found {fields}")
                current.connection = line.value
                current.connection_line = line.number
            elif kind == "a":
                self.read_attribute(line, current, media)

    def read_origin(self, line: SdpLine) -> None:
        parts = line.value.split()
        if len(parts) != 6:
            self.problem(line, f"o= needs 6 fields (username id version IN IP4 address), found {len(parts)}")
            return
        username, session_id, version, nettype, addrtype, address = parts
        self.desc.origin = Origin(username, session_id, version, nettype, addrtype, address, line=line.number)

    def read_m_line(self, line: SdpLine, index: int) -> MediaSection:
        parts = line.value.split()
        if len(parts) < 3:
            raise SdpError(
                f"line {line.number}: an m= line needs media, port, protocol and formats, "
                f"e.g. 'm=audio 9 UDP/TLS/RTP/SAVPF 111': '{_shorten(line.text)}'"
            )
        port_text, _, count_text = parts[1].partition("/")
        try:
            port = _int(port_text)
            count = _int(count_text) if count_text else None
        except ValueError:
            raise SdpError(f"line {line.number}: the port of an m= line must be a number, found '{parts[1]}'") from None
        if not 0 <= port <= 65535:
            raise SdpError(f"line {line.number}: m= port {port} is outside 0-65535")
        section = MediaSection(
            index=index,
            kind=parts[0],
            port=port,
            port_count=count,
            proto=parts[2],
            formats=parts[3:],
            line=line.number,
            last_line=line.number,
        )
        if not section.formats:
            self.problem(line, "an m= line needs at least one format (payload type)")
        if section.is_rtp:
            seen: set[int] = set()
            for fmt in section.formats:
                if not is_number(fmt) or not 0 <= int(fmt) <= 127:
                    self.problem(line, f"RTP payload type '{fmt}' is not a number in 0-127")
                    continue
                pt = int(fmt)
                if pt in seen:
                    self.problem(line, f"payload type {pt} is listed twice in the m= line", "duplicate-payload-type")
                    continue
                seen.add(pt)
                section.codecs[pt] = _static_codec(pt)
        return section

    def read_attribute(self, line: SdpLine, current: _Common, media: MediaSection | None) -> None:
        name, value = line.attribute
        current.attributes.append(Attribute(name, value, line.number))
        desc = self.desc
        try:
            if name == "ice-ufrag":
                current.ice_ufrag, current.ice_ufrag_line = value or "", line.number
            elif name == "ice-pwd":
                current.ice_pwd, current.ice_pwd_line = value or "", line.number
            elif name == "ice-options":
                current.ice_options = (value or "").split()
            elif name == "ice-lite":
                current.ice_lite, current.ice_lite_line = True, line.number
            elif name == "fingerprint":
                algorithm, _, digest = (value or "").strip().partition(" ")
                if not algorithm or not digest.strip():
                    raise ValueError("a fingerprint needs a hash function and a value, e.g. 'sha-256 AB:CD:…'")
                current.fingerprints.append(Fingerprint(algorithm.lower(), digest.strip(), line.number))
            elif name == "setup":
                current.setup, current.setup_line = (value or "").strip(), line.number
                if current.setup not in ("actpass", "active", "passive", "holdconn"):
                    raise ValueError(f"setup must be actpass, active, passive or holdconn, found '{value}'")
            elif name in DIRECTIONS:
                if current.direction is not None:
                    self.problem(
                        line,
                        f"a second direction '{name}'; line {current.direction_line} already says "
                        f"'{current.direction}'",
                        "conflicting-direction",
                    )
                    return
                current.direction, current.direction_line = name, line.number
            elif name == "group" and media is None:
                parts = (value or "").split()
                if not parts:
                    raise ValueError("a group needs semantics, e.g. 'BUNDLE 0 1'")
                desc.groups.append(Group(parts[0], parts[1:], line.number))
            elif name == "extmap":
                self.read_extmap(line, current, value)
            elif media is not None:
                self.read_media_attribute(line, media, name, value)
        except ValueError as exc:
            self.problem(line, f"a={name}: {exc}")

    def read_extmap(self, line: SdpLine, current: _Common, value: str | None) -> None:
        parts = (value or "").split()
        if len(parts) < 2:
            raise ValueError("extmap needs an id and a URI, e.g. '1 urn:ietf:params:rtp-hdrext:sdes:mid'")
        ident, _, direction = parts[0].partition("/")
        if not is_number(ident):
            raise ValueError(f"extmap id '{ident}' is not a number")
        current.extmaps.append(Extmap(int(ident), direction or None, parts[1], line.number))

    def read_media_attribute(self, line: SdpLine, media: MediaSection, name: str, value: str | None) -> None:
        if name == "mid":
            media.mid, media.mid_line = (value or ""), line.number
        elif name == "rtcp-mux":
            media.rtcp_mux = True
        elif name == "rtcp-rsize":
            media.rtcp_rsize = True
        elif name in ("ptime", "maxptime"):
            try:
                number = float(value or "")
            except ValueError:
                raise ValueError(f"'{value}' is not a number of milliseconds") from None
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError(f"'{value}' is not a number of milliseconds")
            setattr(media, name, number)
            setattr(media, f"{name}_line", line.number)
        elif name == "rtpmap":
            pt, codec_text = _split_pt(value)
            parts = codec_text.strip().split("/")
            if len(parts) < 2 or not parts[0]:
                raise ValueError(f"rtpmap needs 'PT name/clock rate', found '{value}'")
            try:
                clock = _int(parts[1])
                channels = _int(parts[2]) if len(parts) > 2 and parts[2] else None
            except ValueError:
                raise ValueError(f"clock rate and channels must be numbers, found '{codec_text}'") from None
            codec = self.codec(media, pt, line)
            if codec.rtpmap_line is not None:
                self.problem(
                    line,
                    f"a second rtpmap for payload type {pt}; the first is on line {codec.rtpmap_line}",
                    "duplicate-payload-type",
                )
                return
            codec.name, codec.clock_rate, codec.channels, codec.rtpmap_line = parts[0], clock, channels, line.number
        elif name == "fmtp":
            pt, params = _split_pt(value)
            codec = self.codec(media, pt, line)
            if codec.fmtp_line is not None:
                raise ValueError(f"a second fmtp for payload type {pt}; the first is on line {codec.fmtp_line}")
            codec.fmtp_text, codec.fmtp_line = params, line.number
            codec.fmtp = _fmtp_params(params)
        elif name == "rtcp-fb":
            pt_text, _, feedback = (value or "").partition(" ")
            if pt_text == "*":
                for codec in media.codecs.values():
                    codec.rtcp_fb.append(feedback.strip())
            else:
                pt, _ = _split_pt(value)
                self.codec(media, pt, line).rtcp_fb.append(feedback.strip())
        elif name == "candidate":
            media.candidates.append(parse_candidate(value or "", line.number))
        elif name == "end-of-candidates":
            media.end_of_candidates = True
        elif name == "ssrc":
            ssrc_text, _, rest = (value or "").partition(" ")
            if not is_number(ssrc_text) or int(ssrc_text) > 0xFFFFFFFF:
                raise ValueError(f"ssrc '{ssrc_text}' is not a 32-bit number")
            key, _, attr_value = rest.partition(":")
            media.ssrcs.setdefault(int(ssrc_text), {})[key] = attr_value
        elif name == "msid":
            media.msid = value

    def codec(self, media: MediaSection, pt: int, line: SdpLine) -> Codec:
        codec = media.codecs.get(pt)
        if codec is None:
            # not in the m= line: kept apart so the linter can point at it
            self.problem(
                line, f"payload type {pt} is not in the m= line (line {media.line})", "orphan-payload-attribute"
            )
            codec = media.orphan_codecs.setdefault(pt, Codec(pt))
        return codec


def _static_codec(pt: int) -> Codec:
    known = STATIC_PT.get(pt)
    if known is None:
        return Codec(pt)
    name, clock, channels = known
    return Codec(pt, name, clock, channels if channels != 1 else None)


def _split_pt(value: str | None) -> tuple[int, str]:
    pt_text, _, rest = (value or "").partition(" ")
    if not is_number(pt_text) or not 0 <= int(pt_text) <= 127:
        raise ValueError(f"'{pt_text}' is not a payload type (0-127)")
    return int(pt_text), rest


def _fmtp_params(text: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.strip().partition("=")
        if key:
            params[key.strip().lower() if sep else key.strip()] = value.strip()
    return params
