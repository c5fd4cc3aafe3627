"""Mean-opinion-score estimate from delay, jitter and loss: the E-model of ITU-T G.107,
simplified as VoIP monitors usually do (Cole & Rosenbluth, 2001).

    d       = one-way delay (ms) = rtt / 2 + jitter buffer (2 × jitter) + codec (Opus 20 ms frame + 6.5 ms look-ahead)
    Id      = 0.024·d + 0.11·(d − 177.3)·H(d − 177.3)            delay impairment
    Ie_eff  = Ie + (95 − Ie) · Ppl / (Ppl + Bpl)                 equipment impairment with random loss Ppl (%)
    R       = 93.2 − Id − Ie_eff
    MOS     = 1 + 0.035·R + 7·10⁻⁶·R·(R − 60)·(100 − R)          for 0 < R < 100 (1 below, 4.5 above)

Ie = 0 and Bpl = 25.1 are G.113's figures for G.711 with packet-loss concealment;
G.113 lists none for Opus, so these are an assumption, stated wherever the score
is shown. Without an RTT (aiortc learns it only from the peer's RTCP), d counts
the jitter buffer and codec only and the score says so.
"""

from __future__ import annotations

from dataclasses import dataclass

CODEC_DELAY_MS = 26.5
IE = 0.0
BPL = 25.1


@dataclass(frozen=True)
class MosEstimate:
    mos: float
    r_factor: float
    one_way_delay_ms: float
    rtt_known: bool


def r_factor(one_way_delay_ms: float, loss_pct: float, ie: float = IE, bpl: float = BPL) -> float:
    d = max(0.0, one_way_delay_ms)
    delay_impairment = 0.024 * d + (0.11 * (d - 177.3) if d > 177.3 else 0.0)
    ppl = min(100.0, max(0.0, loss_pct))
    equipment_impairment = ie + (95.0 - ie) * ppl / (ppl + bpl)
    return 93.2 - delay_impairment - equipment_impairment


def mos_from_r(r: float) -> float:
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1.0 + 0.035 * r + 7e-6 * r * (r - 60.0) * (100.0 - r)


def estimate_mos(rtt_ms: float | None, jitter_ms: float | None, loss_pct: float | None) -> MosEstimate | None:
    """None until there is at least a loss figure (nothing received yet)."""
    if loss_pct is None:
        return None
    d = (rtt_ms or 0.0) / 2.0 + 2.0 * (jitter_ms or 0.0) + CODEC_DELAY_MS
    r = r_factor(d, loss_pct)
    return MosEstimate(round(mos_from_r(r), 2), round(r, 1), round(d, 1), rtt_ms is not None)
