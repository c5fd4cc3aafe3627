"""CallSummary: what a call measured, typed.

``to_json()`` is the summary ``voicedesk call --json`` prints and reports store: the
keys in this order, then the keys the call's extensions add
(tests/unit/rtc/test_summary.py holds the list). Reading by key (``summary["jitter_ms"]``)
works too, for scripts written against the JSON; the object itself never changes
after the call made it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(frozen=True)
class CallSummary(Mapping[str, Any]):
    target: str
    state: str  # "connected" if the call ever connected, else the last state
    final_state: str
    reason: str | None
    setup_ms: float | None
    setup_phases: dict[str, float | None]
    packets_sent: int | None  # None: getStats had no outbound-rtp / inbound-rtp yet
    packets_received: int | None
    loss_pct: float | None
    jitter_ms: float | None
    rtt_ms: float | None
    bitrate_out_kbps: float | None
    bitrate_in_kbps: float | None
    rx_frames: int
    rx_peak_hz: float | None
    rx_level_dbfs: float | None
    tx_frames: int
    duration_ms: float | None
    impairment: dict[str, Any] | None
    turns: list[dict[str, Any]]
    mos: float | None
    # measured on the received audio itself (what a listener got)
    rx_gaps: int
    rx_gap_ms: float | None
    rx_clipped_samples: int
    rx_silent_ms: float | None
    # over the whole call: an agent that spoke and then fell silent has no level in
    # the last second, which alone would read as "nothing received"
    rx_audio_ms: float | None
    rx_audible_ms: float | None
    path: str | None
    turn_used: bool
    selected_pair: str | None
    # liveness (rtc/liveness.py), after the keys of before: packets counted as they arrive
    media_timeout_s: float | None = None  # None: not watched
    media_lost_at_ms: float | None = None  # the last packet before the media was first reported lost
    packets_after_media_lost: int | None = None  # packets that came after that report (riding it out)
    media_gaps: list[dict[str, float]] = field(default_factory=list)  # silences >= 1 s: {"at_ms", "ms"}
    peer_hung_up_at_ms: float | None = None  # the signaling channel ended from the far side
    # agent events (rtc/events/): messages on the events channel that were oversized, not
    # JSON, or of a type the protocol does not know (shown raw, never an error)
    agent_events_dropped: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # what the call's extensions added

    @property
    def connected(self) -> bool:
        return self.state == "connected"

    @property
    def failed(self) -> bool:
        return self.final_state == "failed"

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON output has it (a new dict each time)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out.update(self.extra)
        return out

    # read-only mapping over the JSON keys ----------------------------------
    def __getitem__(self, key: str) -> Any:
        if key != "extra" and key in _FIELD_NAMES:
            return getattr(self, key)
        return self.extra[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_json())

    def __len__(self) -> int:
        return len(self.to_json())

    def __contains__(self, key: object) -> bool:
        return (key != "extra" and key in _FIELD_NAMES) or key in self.extra


_FIELD_NAMES = frozenset(f.name for f in fields(CallSummary))
JSON_KEYS = tuple(f.name for f in fields(CallSummary) if f.name != "extra")
