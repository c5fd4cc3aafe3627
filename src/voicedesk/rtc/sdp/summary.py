"""What an offer/answer pair negotiated, section by section, in words and in JSON.

The codec is the first one in the answer's m= line that the offer also has (RFC 3264:
the answerer lists what it will send and receive, in its order of preference; aiortc,
browsers and Janus all send with it). Opus parameters are a receiver's wishes, so both
sides' fmtp are shown. DTLS: ``a=setup:active`` is the DTLS client. ICE: the offerer
controls unless it is lite and the answerer is not (RFC 8445 §6.1.1).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from voicedesk.rtc.sdp.model import Codec, MediaSection, SessionDescription

_NOT_CODECS = {"telephone-event", "cn", "red", "rtx", "ulpfec", "flexfec-03"}


@dataclass(frozen=True)
class CodecChoice:
    name: str
    payload_type: int
    clock_rate: int | None
    channels: int | None
    offer_params: dict[str, str]
    answer_params: dict[str, str]


@dataclass(frozen=True)
class SectionSummary:
    index: int
    kind: str
    mid: str | None
    proto: str
    rejected: bool
    codec: CodecChoice | None
    also_common: list[str]  # other codecs both sides have (DTMF, comfort noise, RED …)
    offer_ptime: float | None
    answer_ptime: float | None
    offer_direction: str
    answer_direction: str
    offerer_sends: bool
    answerer_sends: bool
    offer_setup: str | None
    answer_setup: str | None
    dtls_client: str | None  # "offerer" / "answerer" / None when it cannot be told
    rtcp_mux: bool
    offer_candidates: dict[str, int] = field(default_factory=dict)
    answer_candidates: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class NegotiationSummary:
    offer_ice_lite: bool
    answer_ice_lite: bool
    ice_controlling: str  # "offerer" / "answerer"
    offer_trickle: bool
    answer_trickle: bool
    bundle: list[str]  # mids the answer bundles
    sections: list[SectionSummary]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def summarize(offer: SessionDescription, answer: SessionDescription) -> NegotiationSummary:
    sections = [_section(offer, o, answer, a) for o, a in zip(offer.media, answer.media, strict=False)]
    controlling = "answerer" if offer.ice_lite and not answer.ice_lite else "offerer"
    return NegotiationSummary(
        offer_ice_lite=offer.ice_lite,
        answer_ice_lite=answer.ice_lite,
        ice_controlling=controlling,
        offer_trickle=_trickle(offer),
        answer_trickle=_trickle(answer),
        bundle=[mid for g in answer.bundle_groups() for mid in g.mids],
        sections=sections,
    )


def _trickle(desc: SessionDescription) -> bool:
    return "trickle" in desc.ice_options or any("trickle" in m.ice_options for m in desc.media)


def _section(offer: SessionDescription, o: MediaSection, answer: SessionDescription, a: MediaSection) -> SectionSummary:
    offered = {c.key: c for c in o.codecs.values() if c.name}
    common = [(offered[c.key], c) for c in a.codecs.values() if c.name and c.key in offered]
    main = next(((oc, ac) for oc, ac in common if (ac.name or "").lower() not in _NOT_CODECS), None)
    codec = _choice(*main) if main and not a.rejected else None
    also = [ac.describe() for oc, ac in common if main is None or ac is not main[1]]
    o_dir, a_dir = offer.direction_of(o), answer.direction_of(a)
    o_setup, a_setup = offer.setup_of(o)[0], answer.setup_of(a)[0]
    if a_setup == "active":
        client: str | None = "answerer"
    elif a_setup == "passive":
        client = "offerer"
    else:
        client = None
    flowing = not (o.rejected or a.rejected)
    return SectionSummary(
        index=o.index,
        kind=o.kind,
        mid=a.mid if a.mid is not None else o.mid,
        proto=a.proto or o.proto,
        rejected=a.rejected or o.rejected,
        codec=codec,
        also_common=also if not a.rejected else [],
        offer_ptime=o.ptime,
        answer_ptime=a.ptime,
        offer_direction=o_dir,
        answer_direction=a_dir,
        offerer_sends=flowing and o_dir in ("sendrecv", "sendonly") and a_dir in ("sendrecv", "recvonly"),
        answerer_sends=flowing and a_dir in ("sendrecv", "sendonly") and o_dir in ("sendrecv", "recvonly"),
        offer_setup=o_setup,
        answer_setup=a_setup,
        dtls_client=client,
        rtcp_mux=o.rtcp_mux and a.rtcp_mux,
        offer_candidates=candidate_counts(o),
        answer_candidates=candidate_counts(a),
    )


def _choice(offered: Codec, answered: Codec) -> CodecChoice:
    return CodecChoice(
        name=answered.name or "",
        payload_type=answered.payload_type,
        clock_rate=answered.clock_rate,
        channels=answered.channels,
        offer_params=dict(offered.fmtp),
        answer_params=dict(answered.fmtp),
    )


def candidate_counts(media: MediaSection) -> dict[str, int]:
    """Candidates per type and transport, e.g. {"host udp": 2, "relay udp": 1}."""
    counts = Counter(f"{c.type} {c.transport}" for c in media.candidates)
    return dict(sorted(counts.items()))


def format_summary(summary: NegotiationSummary) -> str:
    def roles() -> str:
        lite = [
            side
            for side, is_lite in (("offerer", summary.offer_ice_lite), ("answerer", summary.answer_ice_lite))
            if is_lite
        ]
        text = f"{summary.ice_controlling} controls"
        return text + (f"; ICE lite: {', '.join(lite)}" if lite else "; both full ICE")

    def counts(c: dict[str, int]) -> str:
        return ", ".join(f"{n} {k}" for k, n in c.items()) or "none"

    def ptime(value: float | None) -> str:
        return "not set" if value is None else f"{value:g} ms"

    lines = [
        f"ICE            {roles()}; trickle: offer {_yn(summary.offer_trickle)}, answer {_yn(summary.answer_trickle)}",
        f"BUNDLE         {' '.join(summary.bundle) or 'none'}",
    ]
    for s in summary.sections:
        lines.append("")
        lines.append(f"{s.kind} (m-section {s.index}, mid {s.mid if s.mid is not None else 'none'})")
        if s.rejected:
            lines.append("  rejected (port 0)")
            continue
        if "RTP" not in s.proto.upper():
            lines.append(f"  transport      {s.proto} (no codecs)")
        elif s.codec is None:
            lines.append("  codec          none in common")
        else:
            c = s.codec
            rate = f"/{c.clock_rate}" if c.clock_rate else ""
            chans = f"/{c.channels}" if c.channels and c.channels != 1 else ""
            lines.append(f"  codec          {c.name}{rate}{chans} (PT {c.payload_type})")
            lines.append(f"  params         offer: {_params(c.offer_params)}; answer: {_params(c.answer_params)}")
        if s.also_common:
            lines.append(f"  also common    {', '.join(s.also_common)}")
        if "RTP" in s.proto.upper():
            lines.append(f"  ptime          offer {ptime(s.offer_ptime)}, answer {ptime(s.answer_ptime)}")
            sends = [side for side, yes in (("offerer", s.offerer_sends), ("answerer", s.answerer_sends)) if yes]
            flow = " and ".join(sends) + (" sends" if len(sends) == 1 else " send") if sends else "no media flows"
            lines.append(f"  direction      offer {s.offer_direction}, answer {s.answer_direction} -> {flow}")
        client = {"offerer": "offerer is DTLS client", "answerer": "answerer is DTLS client"}.get(
            s.dtls_client or "", "DTLS roles undecided"
        )
        lines.append(f"  DTLS           setup offer {s.offer_setup}, answer {s.answer_setup} -> {client}")
        if "RTP" in s.proto.upper():
            lines.append(f"  rtcp-mux       {_yn(s.rtcp_mux)}")
        lines.append(f"  candidates     offer: {counts(s.offer_candidates)}; answer: {counts(s.answer_candidates)}")
    return "\n".join(lines)


def _yn(value: bool) -> str:
    return "yes" if value else "no"


def _params(params: dict[str, str]) -> str:
    return ";".join(f"{k}={v}" if v else k for k, v in params.items()) or "none"
