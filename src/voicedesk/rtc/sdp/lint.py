"""Named lint rules for one SDP, or for an offer/answer pair, each finding on its line.

Severities: ``error`` — a WebRTC stack (aiortc, a browser) will refuse this or the call
cannot work; ``warning`` — it may work but something is off (a voice engineer wants to
know); ``info`` — worth seeing, not a fault. ``RULES`` lists every rule with its
severity and what it means; ``voicedesk sdp rules`` prints it.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass

from voicedesk.errors import SdpError
from voicedesk.rtc.sdp.model import (
    DIRECTIONS,
    KNOWN_TYPES,
    SESSION_TYPES,
    STATIC_PT,
    Codec,
    MediaSection,
    SessionDescription,
    is_number,
    parse,
)


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True)
class Rule:
    name: str
    severity: Severity
    summary: str


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    line: int  # 1-based line in the SDP named by ``sdp`` (0: the SDP as a whole)
    message: str
    sdp: str = ""  # "offer" / "answer" when a pair was linted, else ""

    def to_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "line": self.line,
            "sdp": self.sdp or None,
            "message": self.message,
        }

    def format(self, name: str = "") -> str:
        where = f"{name or self.sdp or 'sdp'}:{self.line}"
        return f"{where}: {self.severity.value} [{self.rule}] {self.message}"


ERR, WARN, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
_RULES = [
    # structure
    Rule("unparseable", ERR, "not SDP at all: the first line is not v=0 or a line is not 'x=value'"),
    Rule("malformed-line", ERR, "a value that cannot be read (rtpmap, fmtp, candidate, fingerprint, ptime, o=…)"),
    Rule("missing-origin", ERR, "no o= line (browsers refuse the SDP)"),
    Rule("missing-session-name", ERR, "no s= line (browsers refuse the SDP)"),
    Rule("missing-timing", ERR, "no t= line (browsers refuse the SDP)"),
    Rule("duplicate-session-line", ERR, "v=, o=, s= or t= appears twice at session level"),
    Rule("session-line-order", WARN, "session lines out of RFC 8866 order (v o s i u e p c b t r z k a)"),
    Rule("unknown-line-type", WARN, "a line type letter SDP does not define; strict parsers refuse it"),
    Rule("blank-line", WARN, "an empty line; some parsers (browsers) refuse it"),
    Rule("trailing-whitespace", WARN, "a line ends in spaces or tabs (they become part of e.g. an ICE password)"),
    Rule("mixed-line-endings", WARN, "CRLF and LF mixed in one SDP"),
    Rule("lf-line-endings", INFO, "LF line endings; RFC 8866 says CRLF (most parsers accept LF)"),
    Rule("no-media", WARN, "no m= section: nothing to negotiate"),
    # transport security and ICE
    Rule("missing-fingerprint", ERR, "a DTLS-SRTP section without a=fingerprint (session or media level)"),
    Rule("bad-fingerprint", ERR, "a fingerprint whose hash function is unknown or whose length does not match it"),
    Rule("insecure-proto", ERR, "an RTP section without DTLS (RTP/AVP, RTP/SAVP): WebRTC requires UDP/TLS/RTP/SAVPF"),
    Rule("missing-ice-ufrag", ERR, "no a=ice-ufrag for a section (session or media level)"),
    Rule("missing-ice-pwd", ERR, "no a=ice-pwd for a section (session or media level)"),
    Rule("ice-credential-length", ERR, "ice-ufrag shorter than 4 or ice-pwd shorter than 22 characters (RFC 8839)"),
    Rule("ice-lite-in-media", WARN, "a=ice-lite is a session-level attribute"),
    Rule("missing-setup", WARN, "no a=setup (JSEP requires it; peers fall back to guessing the DTLS role)"),
    Rule("setup-actpass-in-answer", ERR, "an answer must choose a=setup:active or passive, not actpass"),
    Rule("setup-holdconn", WARN, "a=setup:holdconn: no DTLS connection will be made"),
    Rule("no-candidates", WARN, "no candidates and no trickle: the peer has no address to reach"),
    Rule("mdns-candidate", WARN, "a .local (mDNS) candidate: works only when both peers share a LAN with multicast"),
    Rule("link-local-candidate", WARN, "a link-local candidate (169.254/16, fe80::/10): works only on the same link"),
    Rule("unroutable-candidate", ERR, "a candidate at 0.0.0.0, ::, a multicast address or port 0 (TCP active aside)"),
    Rule("loopback-candidate", INFO, "a loopback candidate (127/8, ::1): works only on this machine"),
    Rule("private-candidates-only", INFO, "only private-network host candidates: no STUN/TURN, fine on one LAN only"),
    Rule("bad-candidate-type", ERR, "a candidate type that is not host, srflx, prflx or relay"),
    Rule("duplicate-candidate", WARN, "the same candidate (address, port, transport, component) twice"),
    # media and codecs
    Rule("missing-rtcp-mux", ERR, "an audio/video section without a=rtcp-mux (aiortc and browsers require it)"),
    Rule("duplicate-payload-type", ERR, "a payload type listed twice in m= or mapped twice by rtpmap"),
    Rule("missing-rtpmap", ERR, "a dynamic payload type (96-127) with no a=rtpmap"),
    Rule("orphan-payload-attribute", WARN, "rtpmap/fmtp/rtcp-fb for a payload type not in the m= line"),
    Rule("static-payload-remapped", WARN, "rtpmap gives a static payload type (0-95) a different codec than RFC 3551"),
    Rule("odd-ptime", WARN, "a ptime that is not a multiple of 10 ms in 10-120, or one Opus cannot do"),
    Rule("ptime-above-maxptime", WARN, "a=ptime larger than a=maxptime"),
    Rule("opus-no-fec", WARN, "Opus without useinbandfec=1: a lost packet is a gap instead of a repaired one"),
    Rule("opus-rtpmap", ERR, "Opus must be mapped as opus/48000/2 (RFC 7587)"),
    Rule("opus-fmtp-range", WARN, "an Opus fmtp value outside its range (maxaveragebitrate 6000-510000, flags 0/1)"),
    Rule("rtx-unknown-apt", WARN, "an rtx codec whose apt= names a payload type not in the section"),
    Rule("dtmf-clock-mismatch", INFO, "telephone-event has no audio codec of the same clock rate to go with"),
    Rule("missing-mid", ERR, "a section without a=mid while BUNDLE is used (JSEP needs mids)"),
    Rule("duplicate-mid", ERR, "two sections with the same a=mid"),
    Rule("bundle-unknown-mid", ERR, "a BUNDLE group lists a mid no section has"),
    Rule("not-bundled", INFO, "a section outside the BUNDLE group: it needs its own transport"),
    Rule("bundle-transport-mismatch", ERR, "bundled sections with different ICE credentials or fingerprints"),
    Rule("missing-sctp-port", WARN, "a data channel section (webrtc-datachannel) without a=sctp-port"),
    Rule("conflicting-direction", ERR, "two direction attributes in one section"),
    Rule("duplicate-extmap-id", ERR, "one header extension id used for two URIs in a section"),
    Rule("extmap-id-range", WARN, "extmap id outside 1-14 needs two-byte headers (a=extmap-allow-mixed), max 255"),
    Rule("rejected-media", INFO, "a section with port 0 (rejected or disabled)"),
    Rule("ssrc-group-unknown", WARN, "a=ssrc-group names an SSRC with no a=ssrc line"),
    # offer/answer pair
    Rule("answer-adds-media", ERR, "the answer has more m-sections than the offer"),
    Rule("answer-missing-media", ERR, "the answer has fewer m-sections than the offer"),
    Rule("media-kind-mismatch", ERR, "an answer section's media kind differs from the offer's in that place"),
    Rule("mid-mismatch", ERR, "an answer section's mid differs from the offer's in that place"),
    Rule("no-common-codec", ERR, "no codec of the answer section appears in the offer section"),
    Rule("answer-codec-not-offered", WARN, "the answer lists a codec the offer did not (RFC 3264: it must not)"),
    Rule("payload-type-changed", INFO, "the answer uses another payload type number for an offered codec"),
    Rule(
        "direction-mismatch", ERR, "the answer's direction is not allowed for the offer's (e.g. sendonly to sendonly)"
    ),
    Rule("no-media-flow", WARN, "offer and answer leave the section inactive: no audio flows"),
    Rule("bundle-answer-mismatch", ERR, "the answer's BUNDLE group names a mid the offer did not bundle"),
    Rule("dtls-role-conflict", ERR, "offer and answer pick the same DTLS role (both active or both passive)"),
    Rule("ice-lite-both", ERR, "both sides are ICE lite: nobody sends connectivity checks"),
    Rule("answer-rejects-media", WARN, "the answer rejects (port 0) a section the offer wanted"),
]
RULES: dict[str, Rule] = {rule.name: rule for rule in _RULES}

HASH_BYTES = {"sha-1": 20, "sha-224": 28, "sha-256": 32, "sha-384": 48, "sha-512": 64, "md5": 16, "md2": 16}
OPUS_PTIMES = (2.5, 5, 10, 20, 40, 60, 80, 100, 120)
_HEX_PAIR = re.compile(r"^[0-9A-Fa-f]{2}$")
_SESSION_ORDER = {t: i for i, t in enumerate(SESSION_TYPES)}


class _Collector:
    def __init__(self, sdp: str) -> None:
        self.sdp = sdp
        self.findings: list[Finding] = []

    def add(self, rule: str, line: int | None, message: str, sdp: str | None = None) -> None:
        self.findings.append(Finding(rule, RULES[rule].severity, line or 0, message, self.sdp if sdp is None else sdp))


def lint(desc: SessionDescription, role: str | None = None, *, name: str = "") -> list[Finding]:
    """Findings for one SDP. ``role`` ("offer"/"answer") enables the rules that depend on it;
    None guesses it from a=setup (actpass -> offer, active/passive -> answer)."""
    role = role or guess_role(desc)
    out = _Collector(name)
    _lint_text(desc, out)
    _lint_session(desc, out)
    for media in desc.media:
        _lint_media(desc, media, role, out)
    _lint_bundle(desc, out)
    return sort_findings(out.findings)


def lint_pair(offer: SessionDescription, answer: SessionDescription) -> list[Finding]:
    """Both SDPs on their own and the rules that need both; findings name "offer" or "answer"."""
    findings = lint(offer, "offer", name="offer") + lint(answer, "answer", name="answer")
    out = _Collector("answer")
    _lint_pair(offer, answer, out)
    return sort_findings(findings + out.findings)


def lint_text(text: str, role: str | None = None) -> list[Finding]:
    """Like ``lint`` on text; text that is not SDP gives one ``unparseable`` finding instead of raising."""
    try:
        desc = parse(text)
    except SdpError as exc:
        message = str(exc)
        match = re.match(r"line (\d+): (.*)", message)
        line = int(match.group(1)) if match else 0
        return [Finding("unparseable", Severity.ERROR, line, match.group(2) if match else message)]
    return lint(desc, role)


def sort_findings(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.sdp != "offer", f.line, f.severity.rank, f.rule))


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == Severity.ERROR for f in findings)


def guess_role(desc: SessionDescription) -> str | None:
    setups = {desc.setup_of(m)[0] for m in desc.media} | ({desc.setup} if desc.setup else set())
    if "actpass" in setups:
        return "offer"
    if setups & {"active", "passive"}:
        return "answer"
    return None


# single SDP ----------------------------------------------------------------------------------


def _lint_text(desc: SessionDescription, out: _Collector) -> None:
    endings = {line.ending for line in desc.lines if line.ending}
    if "\r\n" in endings and len(endings) > 1:
        first_other = next(line for line in desc.lines if line.ending and line.ending != "\r\n")
        out.add("mixed-line-endings", first_other.number, "this line ends differently from the lines before it")
    elif endings == {"\n"}:
        out.add("lf-line-endings", 1, "lines end in LF, not CRLF")
    last_blank_run = False
    for line in desc.lines:
        if not line.text:
            # one blank line at the very end is what "text\n\n" pastes give: still worth a word
            if not last_blank_run:
                out.add("blank-line", line.number, "empty line")
            last_blank_run = True
            continue
        last_blank_run = False
        if line.text != line.text.rstrip(" \t"):
            out.add("trailing-whitespace", line.number, f"'{line.text.strip()[:40]}' ends in whitespace")
        if line.type not in KNOWN_TYPES:
            out.add("unknown-line-type", line.number, f"'{line.type}=' is not an SDP line type")
    for problem in desc.problems:
        out.add(problem.rule, problem.line, problem.message)


def _lint_session(desc: SessionDescription, out: _Collector) -> None:
    seen: dict[str, int] = {}
    last_rank = -1
    for line in desc.lines:
        if line.type == "m":
            break
        if line.type in "vost" and line.type:
            if line.type in seen:
                out.add(
                    "duplicate-session-line",
                    line.number,
                    f"a second {line.type}= line (first on line {seen[line.type]})",
                )
            seen.setdefault(line.type, line.number)
        rank = _SESSION_ORDER.get(line.type)
        if rank is not None:
            if rank < last_rank:
                out.add("session-line-order", line.number, f"'{line.type}=' comes after a line that belongs later")
            last_rank = max(last_rank, rank)
    for kind, rule, what in (
        ("o", "missing-origin", "o="),
        ("s", "missing-session-name", "s="),
        ("t", "missing-timing", "t="),
    ):
        if kind not in seen:
            out.add(rule, desc.session_last_line or 1, f"no {what} line at session level")
    if not desc.media:
        out.add("no-media", desc.session_last_line or 1, "no m= section")
    for fp in desc.fingerprints:
        _check_fingerprint(fp.algorithm, fp.value, fp.line, out)


def _check_fingerprint(algorithm: str, value: str, line: int, out: _Collector) -> None:
    expected = HASH_BYTES.get(algorithm)
    if expected is None:
        out.add("bad-fingerprint", line, f"unknown hash function '{algorithm}' (use sha-256)")
        return
    pairs = value.split(":")
    if not all(_HEX_PAIR.match(p) for p in pairs):
        out.add("bad-fingerprint", line, "a fingerprint is hex byte pairs separated by ':'")
    elif len(pairs) != expected:
        out.add("bad-fingerprint", line, f"{algorithm} has {expected} bytes, this fingerprint has {len(pairs)}")


def _lint_media(desc: SessionDescription, media: MediaSection, role: str | None, out: _Collector) -> None:
    label = media.label()
    if media.port == 0 and not media.has("bundle-only"):
        out.add("rejected-media", media.line, f"{label} has port 0 (rejected or disabled)")
        return
    is_av = media.kind in ("audio", "video")
    proto = media.proto.upper()
    dtls = "TLS" in proto or "DTLS" in proto
    if media.is_rtp and not dtls:
        out.add("insecure-proto", media.line, f"{label} uses {media.proto}; WebRTC needs UDP/TLS/RTP/SAVPF")
    if dtls and not desc.fingerprints_of(media):
        out.add("missing-fingerprint", media.line, f"{label} has no a=fingerprint: DTLS cannot be verified")
    for fp in media.fingerprints:
        _check_fingerprint(fp.algorithm, fp.value, fp.line, out)

    ufrag, ufrag_line = desc.ice_ufrag_of(media)
    pwd, pwd_line = desc.ice_pwd_of(media)
    if ufrag is None:
        out.add("missing-ice-ufrag", media.line, f"{label} has no a=ice-ufrag")
    elif not 4 <= len(ufrag.strip()) <= 256:
        out.add("ice-credential-length", ufrag_line, f"ice-ufrag has {len(ufrag.strip())} characters (4-256)")
    if pwd is None:
        out.add("missing-ice-pwd", media.line, f"{label} has no a=ice-pwd")
    elif not 22 <= len(pwd.strip()) <= 256:
        out.add("ice-credential-length", pwd_line, f"ice-pwd has {len(pwd.strip())} characters (22-256)")
    if media.ice_lite:
        out.add("ice-lite-in-media", media.ice_lite_line, "a=ice-lite belongs at session level")

    setup, setup_line = desc.setup_of(media)
    if dtls and setup is None:
        out.add("missing-setup", media.line, f"{label} has no a=setup")
    elif setup == "actpass" and role == "answer":
        out.add("setup-actpass-in-answer", setup_line, "an answer must say a=setup:active or a=setup:passive")
    elif setup == "holdconn":
        out.add("setup-holdconn", setup_line, "holdconn: no DTLS connection will be made")

    _lint_candidates(desc, media, out)
    if media.kind == "application" and "webrtc-datachannel" in media.formats and not media.has("sctp-port"):
        out.add("missing-sctp-port", media.line, f"{label} has no a=sctp-port (browsers assume 5000)")
    if is_av and not media.rtcp_mux:
        out.add("missing-rtcp-mux", media.line, f"{label} has no a=rtcp-mux")
    if media.is_rtp:
        _lint_codecs(media, out)
    _lint_extmaps(desc, media, out)
    for attr in media.attribute("ssrc-group"):
        ssrcs = (attr.value or "").split()[1:]
        for ssrc in ssrcs:
            if not is_number(ssrc) or int(ssrc) not in media.ssrcs:
                out.add("ssrc-group-unknown", attr.line, f"ssrc-group names {ssrc}, which has no a=ssrc line")


def _lint_candidates(desc: SessionDescription, media: MediaSection, out: _Collector) -> None:
    label = media.label()
    if not media.candidates:
        if "trickle" not in desc.ice_options_of(media) and not media.has("bundle-only"):
            bundled_elsewhere = any(
                media.mid in g.mids and g.mids and g.mids[0] != media.mid for g in desc.bundle_groups()
            )
            if not bundled_elsewhere:
                out.add("no-candidates", media.line, f"{label} has no candidates and does not announce trickle ICE")
        return
    seen: dict[tuple[str, int, str, int], int] = {}
    routable = False
    for cand in media.candidates:
        key = (cand.address.lower(), cand.port, cand.transport, cand.component)
        if key in seen:
            out.add("duplicate-candidate", cand.line, f"same candidate as line {seen[key]}")
        seen.setdefault(key, cand.line)
        if cand.type not in ("host", "srflx", "prflx", "relay"):
            out.add("bad-candidate-type", cand.line, f"candidate type '{cand.type}' is not host/srflx/prflx/relay")
        kind = _address_kind(cand.address)
        if cand.address.lower().endswith(".local"):
            out.add("mdns-candidate", cand.line, f"{cand.address} is an mDNS name: the peer must resolve it on its LAN")
        elif kind == "link-local":
            out.add("link-local-candidate", cand.line, f"{cand.address} is link-local")
        elif kind == "unroutable" or (cand.port == 0 and cand.extensions.get("tcptype") != "active"):
            out.add("unroutable-candidate", cand.line, f"{cand.address}:{cand.port} cannot be reached")
        elif kind == "loopback":
            out.add("loopback-candidate", cand.line, f"{cand.address} is loopback")
        if cand.type != "host" or kind == "public":
            routable = True
    if not routable and any(_address_kind(c.address) == "private" for c in media.candidates):
        first = media.candidates[0].line
        out.add("private-candidates-only", first, "only host candidates on private addresses (no STUN/TURN)")


def _address_kind(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return "name"
    if ip.is_unspecified or ip.is_multicast:
        return "unroutable"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_private:
        return "private"
    return "public"


def _lint_codecs(media: MediaSection, out: _Collector) -> None:
    audio_rates = set()
    for codec in media.codecs.values():
        if codec.name is None:
            if codec.is_dynamic:
                out.add("missing-rtpmap", media.line, f"dynamic payload type {codec.payload_type} has no a=rtpmap")
            continue
        name = codec.name.lower()
        static = STATIC_PT.get(codec.payload_type)
        if (
            codec.rtpmap_line is not None
            and static is not None
            and (name != static[0].lower() or codec.clock_rate != static[1])
        ):
            out.add(
                "static-payload-remapped",
                codec.rtpmap_line,
                f"payload type {codec.payload_type} is {static[0]}/{static[1]} by RFC 3551, mapped to "
                f"{codec.describe()} here",
            )
        if name not in ("telephone-event", "cn", "red", "rtx", "ulpfec", "flexfec-03") and media.kind == "audio":
            audio_rates.add(codec.clock_rate)
        if name == "opus":
            _lint_opus(media, codec, out)
        if name == "rtx":
            apt = codec.fmtp.get("apt")
            if apt is None or not is_number(apt) or int(apt) not in media.codecs:
                out.add(
                    "rtx-unknown-apt", codec.fmtp_line or codec.rtpmap_line, f"rtx apt={apt} is not in this section"
                )
    for codec in media.codecs.values():
        if (codec.name or "").lower() == "telephone-event" and audio_rates and codec.clock_rate not in audio_rates:
            out.add(
                "dtmf-clock-mismatch",
                codec.rtpmap_line,
                f"telephone-event/{codec.clock_rate} has no audio codec at that clock rate",
            )
    if media.ptime is not None:
        opus = any((c.name or "").lower() == "opus" for c in media.codecs.values())
        p = media.ptime
        if opus and p not in OPUS_PTIMES:
            out.add("odd-ptime", media.ptime_line, f"Opus cannot make {p:g} ms packets (2.5, 5, 10, 20, 40, 60 ms…)")
        elif not opus and (p % 10 or not 10 <= p <= 120):
            out.add("odd-ptime", media.ptime_line, f"ptime {p:g} ms is not a multiple of 10 in 10-120 ms")
        if media.maxptime is not None and p > media.maxptime:
            out.add("ptime-above-maxptime", media.ptime_line, f"ptime {p:g} ms > maxptime {media.maxptime:g} ms")


def _lint_opus(media: MediaSection, codec: Codec, out: _Collector) -> None:
    if codec.clock_rate != 48000 or codec.channels != 2:
        out.add("opus-rtpmap", codec.rtpmap_line, f"Opus is mapped as {codec.describe()}, must be opus/48000/2")
    if codec.fmtp.get("useinbandfec") != "1":
        line = codec.fmtp_line or codec.rtpmap_line
        out.add("opus-no-fec", line, f"Opus (PT {codec.payload_type}) without useinbandfec=1")
    for key in ("useinbandfec", "usedtx", "stereo", "sprop-stereo", "cbr"):
        if key in codec.fmtp and codec.fmtp[key] not in ("0", "1"):
            out.add("opus-fmtp-range", codec.fmtp_line, f"{key}={codec.fmtp[key]} must be 0 or 1")
    ranges = {
        "maxaveragebitrate": (6000, 510000),
        "maxplaybackrate": (8000, 48000),
        "sprop-maxcapturerate": (8000, 48000),
        "minptime": (3, 120),
        "ptime": (3, 120),
    }
    for key, (low, high) in ranges.items():
        if key in codec.fmtp:
            text = codec.fmtp[key]
            if not is_number(text) or not low <= int(text) <= high:
                out.add("opus-fmtp-range", codec.fmtp_line, f"{key}={text} is outside {low}-{high}")


def _lint_extmaps(desc: SessionDescription, media: MediaSection, out: _Collector) -> None:
    ids: dict[int, str] = {}
    mixed = desc.has("extmap-allow-mixed") or media.has("extmap-allow-mixed")
    for ext in [*desc.extmaps, *media.extmaps]:
        if ext.id in ids and ids[ext.id] != ext.uri:
            out.add("duplicate-extmap-id", ext.line, f"extmap id {ext.id} is already {ids[ext.id]}")
        ids.setdefault(ext.id, ext.uri)
        if not 1 <= ext.id <= 255:
            out.add("extmap-id-range", ext.line, f"extmap id {ext.id} is outside 1-255")
        elif ext.id > 14 and not mixed:
            out.add("extmap-id-range", ext.line, f"extmap id {ext.id} needs two-byte headers (a=extmap-allow-mixed)")


def _transport_of(desc: SessionDescription, media: MediaSection) -> tuple[str | None, str | None, str]:
    fingerprints = " ".join(sorted(f"{f.algorithm} {f.value.upper()}" for f in desc.fingerprints_of(media)))
    return desc.ice_ufrag_of(media)[0], desc.ice_pwd_of(media)[0], fingerprints


def _lint_bundle(desc: SessionDescription, out: _Collector) -> None:
    mids: dict[str, int] = {}
    for media in desc.media:
        if media.mid is None:
            continue
        if media.mid in mids:
            out.add("duplicate-mid", media.mid_line, f"mid '{media.mid}' is also on line {mids[media.mid]}")
        mids.setdefault(media.mid, media.mid_line or media.line)
    groups = desc.bundle_groups()
    bundled: set[str] = set()
    for group in groups:
        for mid in group.mids:
            bundled.add(mid)
            if mid not in mids:
                out.add("bundle-unknown-mid", group.line, f"BUNDLE lists mid '{mid}', which no section has")
    if groups:
        for media in desc.media:
            if media.mid is None:
                out.add("missing-mid", media.line, f"{media.label()} has no a=mid but the SDP uses BUNDLE")
            elif media.mid not in bundled and not media.rejected:
                out.add("not-bundled", media.line, f"{media.label()} is not in the BUNDLE group")
    by_mid = {m.mid: m for m in desc.media if m.mid is not None}
    for group in groups:
        # one transport for the group: every bundled section must describe the same one
        members = [by_mid[mid] for mid in group.mids if mid in by_mid and not by_mid[mid].rejected]
        if len(members) < 2:
            continue
        first = members[0]
        expected = _transport_of(desc, first)
        for media in members[1:]:
            for what, (a, b) in zip(
                ("ice-ufrag", "ice-pwd", "fingerprint"),
                zip(expected, _transport_of(desc, media), strict=True),
                strict=True,
            ):
                if a != b:
                    out.add(
                        "bundle-transport-mismatch",
                        media.line,
                        f"{media.label()} has another {what} than {first.label()}, bundled with it",
                    )


# offer/answer pair ---------------------------------------------------------------------------

_ALLOWED_ANSWER = {
    "sendrecv": set(DIRECTIONS),
    "sendonly": {"recvonly", "inactive"},
    "recvonly": {"sendonly", "inactive"},
    "inactive": {"inactive"},
}


def _lint_pair(offer: SessionDescription, answer: SessionDescription, out: _Collector) -> None:
    if len(answer.media) > len(offer.media):
        extra = answer.media[len(offer.media)]
        out.add("answer-adds-media", extra.line, f"the answer adds {extra.label()}, which the offer does not have")
    elif len(answer.media) < len(offer.media):
        missing = offer.media[len(answer.media)]
        out.add(
            "answer-missing-media",
            answer.session_last_line or 1,
            f"the answer has no section for the offer's {missing.label()}",
        )
    if offer.ice_lite and answer.ice_lite:
        out.add("ice-lite-both", answer.ice_lite_line, "both offer and answer are ICE lite")
    offered_bundle = {mid for g in offer.bundle_groups() for mid in g.mids}
    for group in answer.bundle_groups():
        for mid in group.mids:
            if mid not in offered_bundle:
                out.add("bundle-answer-mismatch", group.line, f"the answer bundles mid '{mid}', the offer did not")
    for o_media, a_media in zip(offer.media, answer.media, strict=False):
        _lint_section_pair(offer, o_media, answer, a_media, out)


def _lint_section_pair(
    offer: SessionDescription, o: MediaSection, answer: SessionDescription, a: MediaSection, out: _Collector
) -> None:
    if o.kind != a.kind:
        out.add("media-kind-mismatch", a.line, f"the offer has {o.kind} here (line {o.line}), the answer {a.kind}")
        return
    if o.mid != a.mid:
        out.add("mid-mismatch", a.mid_line or a.line, f"mid '{a.mid}' where the offer has '{o.mid}'")
    if o.rejected:
        return
    if a.rejected:
        out.add("answer-rejects-media", a.line, f"the answer rejects {o.label()} (port 0)")
        return
    if a.is_rtp:
        offered = {c.key: c for c in o.codecs.values() if c.name}
        answered = [c for c in a.codecs.values() if c.name]
        common = [c for c in answered if c.key in offered]
        if answered and not common:
            out.add(
                "no-common-codec",
                a.line,
                f"none of the answer's codecs ({', '.join(c.describe() for c in answered)}) is in the offer",
            )
        for codec in answered:
            if codec.key not in offered:
                out.add("answer-codec-not-offered", codec.rtpmap_line or a.line, f"{codec.describe()} was not offered")
            elif offered[codec.key].payload_type != codec.payload_type:
                out.add(
                    "payload-type-changed",
                    codec.rtpmap_line or a.line,
                    f"{codec.describe()} is PT "
                    f"{codec.payload_type} here, {offered[codec.key].payload_type} in the offer",
                )
    o_dir, a_dir = offer.direction_of(o), answer.direction_of(a)
    if a_dir not in _ALLOWED_ANSWER[o_dir]:
        out.add(
            "direction-mismatch",
            a.direction_line or answer.direction_line or a.line,
            f"the offer says {o_dir}, so the answer cannot say {a_dir}",
        )
    elif a_dir == "inactive" and o_dir != "inactive":
        out.add("no-media-flow", a.direction_line or a.line, f"the answer makes {a.label()} inactive: no media flows")
    o_setup, a_setup = offer.setup_of(o)[0], answer.setup_of(a)[0]
    if o_setup in ("active", "passive") and o_setup == a_setup:
        out.add("dtls-role-conflict", answer.setup_of(a)[1], f"both sides say setup:{a_setup}")


def iter_rules() -> Iterator[Rule]:
    return iter(_RULES)
