"""What ICE is doing during a call: candidates, candidate-pair checks, the pair in use, a timeline.

aiortc's ``getStats()`` has no ``candidate-pair`` (nor ``local-candidate`` /
``remote-candidate``) entries, unlike a browser's. The monitor therefore reads
aioice, the ICE agent under aiortc: its ``Connection`` holds the check list and
the nominated pair, and every state change of a check goes through
``Connection.check_state``, which the monitor wraps (on that one object) to
record the time of each change. These are aioice internals, all read through
rtc/aioice_internals.py: if a future aioice renames them the snapshot says
"not available" (``available=False``, the reason in ``note``), never breaks a call.

``diagnose()`` turns what was seen into sentences when a call sticks in
"checking" or fails: only mDNS ``.local`` remote candidates that did not
resolve, no pair ever answered, no relay candidate although TURN is configured.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from aioice import Candidate

from voicedesk.config import IceConfig
from voicedesk.rtc import aioice_internals
from voicedesk.rtc.aioice_internals import IceInternalsUnavailable
from voicedesk.rtc.sdp.model import sdp_candidates

logger = logging.getLogger(__name__)

STATS_NOTE = "aiortc exposes no candidate-pair stats; pairs and checks are read from aioice"
UNAVAILABLE_NOTE = "candidate pairs not available"  # followed by what aioice or aiortc lacks

PAIR_STATES = {0: "frozen", 1: "waiting", 2: "in-progress", 3: "succeeded", 4: "failed"}


@dataclass(frozen=True)
class CandidateInfo:
    type: str  # host, srflx, prflx, relay
    protocol: str
    address: str
    port: int
    priority: int
    related_address: str | None = None
    related_port: int | None = None

    @classmethod
    def from_aioice(cls, c: Candidate) -> CandidateInfo:
        return cls(c.type, c.transport.lower(), c.host, c.port, c.priority, c.related_address, c.related_port)

    @property
    def label(self) -> str:
        return f"{self.type} {self.protocol} {self.address}:{self.port}"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "protocol": self.protocol,
            "address": self.address,
            "port": self.port,
            "priority": self.priority,
            "related_address": self.related_address,
            "related_port": self.related_port,
        }


def path_type(local: CandidateInfo, remote: CandidateInfo) -> str:
    """host, srflx or relay: the most indirect hop of the pair (prflx counts as srflx: a NAT was crossed)."""
    types = {local.type, remote.type}
    if "relay" in types:
        return "relay"
    if types & {"srflx", "prflx"}:
        return "srflx"
    return "host"


@dataclass(frozen=True)
class PairInfo:
    local: CandidateInfo
    remote: CandidateInfo
    state: str  # frozen, waiting, in-progress, succeeded, failed
    nominated: bool
    selected: bool
    history: tuple[tuple[float, str], ...]  # (ms since the call started, state)

    @property
    def path(self) -> str:
        return path_type(self.local, self.remote)

    @property
    def label(self) -> str:
        return f"{self.local.label} -> {self.remote.label}"

    def to_json(self) -> dict[str, Any]:
        return {
            "local": self.local.to_json(),
            "remote": self.remote.to_json(),
            "state": self.state,
            "nominated": self.nominated,
            "selected": self.selected,
            "path": self.path,
            "history": [{"ms": round(ms, 1), "state": state} for ms, state in self.history],
        }


@dataclass(frozen=True)
class TimelineEntry:
    ms: float
    what: str  # iceGatheringState, iceConnectionState, connectionState
    state: str

    def to_json(self) -> dict[str, Any]:
        return {"ms": round(self.ms, 1), "what": self.what, "state": self.state}


@dataclass(frozen=True)
class IceSnapshot:
    local_candidates: tuple[CandidateInfo, ...]
    remote_candidates: tuple[CandidateInfo, ...]
    pairs: tuple[PairInfo, ...]
    selected: PairInfo | None
    timeline: tuple[TimelineEntry, ...]
    diagnosis: tuple[str, ...]
    available: bool  # False when aioice's internals could not be read (``note`` says what is missing)
    note: str = STATS_NOTE

    @property
    def path(self) -> str | None:
        return self.selected.path if self.selected else None

    @property
    def turn_used(self) -> bool:
        """Our own TURN relay carries the media (the peer's relay does not count)."""
        return self.selected is not None and self.selected.local.type == "relay"

    def to_json(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "note": self.note,
            "path": self.path,
            "turn_used": self.turn_used,
            "selected_pair": self.selected.label if self.selected else None,
            "local_candidates": [c.to_json() for c in self.local_candidates],
            "remote_candidates": [c.to_json() for c in self.remote_candidates],
            "pairs": [p.to_json() for p in self.pairs],
            "timeline": [e.to_json() for e in self.timeline],
            "diagnosis": list(self.diagnosis),
        }


def _sdp_candidate_hosts(sdp: str | None) -> list[str]:
    return [c.address for c in sdp_candidates(sdp)]


class IceMonitor:
    """Watches one RTCPeerConnection's ICE agent; created by the Call right after the pc exists.

    Cheap to read at any time (``snapshot()``): the GUI pulls it on a timer, the
    command line once at the end. Everything it shows survives ``pc.close()``,
    which empties aioice's lists.
    """

    def __init__(
        self,
        pc: Any,
        clock: Callable[[], float],
        ice: IceConfig | None = None,
        remote_sdp: Callable[[], str | None] | None = None,
    ) -> None:
        self.pc = pc
        self.clock = clock
        self.ice = ice or IceConfig()
        self._remote_sdp = remote_sdp or (lambda: None)
        self._connection: Any = None
        self._available = True
        self._unavailable_reason: str | None = None
        self._timeline: list[TimelineEntry] = []
        self._history: dict[int, list[tuple[float, str]]] = {}
        self._pairs: dict[int, Any] = {}  # id -> aioice CandidatePair (kept after close)
        self._local: list[CandidateInfo] = []
        self._remote: list[CandidateInfo] = []
        self._selected: Any = None
        # aioice may hold nominated pairs and still fail (e.g. every remote candidate was an unresolved
        # mDNS name): a pair counts as selected only once ICE itself reported success
        self._ice_connected = False
        for event, attribute in (
            ("icegatheringstatechange", "iceGatheringState"),
            ("iceconnectionstatechange", "iceConnectionState"),
            ("connectionstatechange", "connectionState"),
        ):
            pc.on(event, self._state_recorder(attribute))
        self._record("connectionState", getattr(pc, "connectionState", "new"))
        self._hook()

    # recording ------------------------------------------------------------
    def _state_recorder(self, attribute: str) -> Callable[[], None]:
        def record() -> None:
            state = getattr(self.pc, attribute, "?")
            self._record(attribute, state)
            if attribute == "iceConnectionState" and state in ("connected", "completed"):
                self._ice_connected = True
            self._hook()
            self.refresh()

        return record

    def _record(self, what: str, state: str) -> None:
        self._timeline.append(TimelineEntry(self.clock(), what, state))

    def _unavailable(self, problem: IceInternalsUnavailable) -> None:
        if self._available:
            logger.info("aioice internals not found (%s): candidate pairs will not be shown", problem)
        self._available = False
        self._unavailable_reason = str(problem)

    @property
    def available(self) -> bool:
        """False once aioice's or aiortc's ICE internals could not be read."""
        return self._available

    def _hook(self) -> None:
        if self._connection is not None or not self._available:
            return
        try:
            connection = aioice_internals.ice_connection(self.pc)
            if connection is None:
                return
            aioice_internals.watch_checks(connection, self._checked)
        except IceInternalsUnavailable as problem:
            self._unavailable(problem)
            return
        self._connection = connection

    def _checked(self, pair: Any, state: Any) -> None:
        key = id(pair)
        self._pairs[key] = pair
        self._history.setdefault(key, []).append((self.clock(), _state_name(state)))

    def refresh(self) -> None:
        """Copy what aioice knows now (it forgets candidates and pairs when the pc closes)."""
        connection = self._connection
        if connection is None:
            return
        try:
            local, remote = aioice_internals.candidates(connection)
            if local:
                self._local = [CandidateInfo.from_aioice(c) for c in local]
            if remote:
                self._remote = [CandidateInfo.from_aioice(c) for c in remote]
            for pair in aioice_internals.check_list(connection):
                self._pairs.setdefault(id(pair), pair)
            nominated = aioice_internals.nominated_pair(connection)
            if nominated is not None and self._ice_connected:
                self._selected = nominated
                self._pairs.setdefault(id(nominated), nominated)
        except IceInternalsUnavailable as problem:
            self._unavailable(problem)
        except Exception:
            logger.debug("cannot read aioice state", exc_info=True)

    # reading --------------------------------------------------------------
    def _pair_info(self, key: int, pair: Any) -> PairInfo | None:
        try:
            parts = aioice_internals.pair_parts(pair)
            return PairInfo(
                local=CandidateInfo.from_aioice(parts.local),
                remote=CandidateInfo.from_aioice(parts.remote),
                state=_state_name(parts.state),
                nominated=parts.nominated,
                selected=pair is self._selected,
                history=tuple(self._history.get(key, ())),
            )
        except IceInternalsUnavailable as problem:
            self._unavailable(problem)
            return None
        except Exception:
            return None

    def snapshot(self) -> IceSnapshot:
        self.refresh()
        pairs = [info for key, pair in self._pairs.items() if (info := self._pair_info(key, pair)) is not None]
        selected = next((p for p in pairs if p.selected), None)
        partial = IceSnapshot(
            local_candidates=tuple(self._local),
            remote_candidates=tuple(self._remote),
            pairs=tuple(pairs),
            selected=selected,
            timeline=tuple(self._timeline),
            diagnosis=(),
            available=self._available,
            note=STATS_NOTE if self._available else f"{UNAVAILABLE_NOTE}: {self._unavailable_reason}",
        )
        return replace(partial, diagnosis=tuple(self.diagnose(partial)))

    @property
    def path(self) -> str | None:
        return self.snapshot().path

    def diagnose(self, snap: IceSnapshot | None = None) -> list[str]:
        """Why ICE did not (yet) connect, in sentences; empty when a pair was selected."""
        snap = snap or self.snapshot()
        if snap.selected is not None:
            return []
        notes: list[str] = []
        local_types = {c.type for c in snap.local_candidates}
        turn_url = self.ice.aiortc_urls[1]
        if turn_url and "relay" not in local_types:
            notes.append(
                f"no relay candidate although {turn_url} is configured: the TURN server refused the credentials "
                "or did not answer (voicedesk ice probe says which)"
            )
        if not snap.local_candidates:
            notes.append("no local candidate was gathered")
        remote_sdp = self._remote_sdp()
        remote_hosts = _sdp_candidate_hosts(remote_sdp)
        if remote_sdp is not None and not remote_hosts and not snap.remote_candidates:
            notes.append("the answer carried no ICE candidates (and none were trickled)")
        elif remote_hosts and all(h.endswith(".local") for h in remote_hosts):
            resolved = [c for c in snap.remote_candidates if c.type != "prflx"]
            if not resolved:
                notes.append(
                    f"the peer offered only mDNS candidates ({', '.join(sorted(set(remote_hosts)))}) and none "
                    "resolved here: the peer hides its addresses (a browser's default); give both sides a "
                    "STUN/TURN server, or run them on the same LAN with multicast DNS"
                )
        if snap.pairs and not any(p.state == "succeeded" for p in snap.pairs):
            tried = [p for p in snap.pairs if p.history]
            if tried and all(p.state in ("failed", "in-progress") for p in tried):
                notes.append(
                    f"no candidate pair got an answer ({len(tried)} of {len(snap.pairs)} checked, e.g. "
                    f"{tried[0].label}): a firewall drops UDP, or the peer's address is not reachable from here "
                    "(a container port not published, a private address on another network); a TURN server both "
                    "sides reach would help"
                )
                relay_pairs = [p for p in tried if p.local.type == "relay"]
                if relay_pairs and all(p.state == "failed" for p in relay_pairs):
                    notes.append(
                        "the relay was allocated but no check through it was answered: the TURN server may not be "
                        "allowed to reach the peer (coturn refuses loopback and private peers by default)"
                    )
        elif snap.available and not snap.pairs and snap.remote_candidates and snap.local_candidates:
            notes.append("no candidate pair could be formed (address families or transports do not match)")
        return notes


def _state_name(state: Any) -> str:
    value = getattr(state, "value", state)
    return PAIR_STATES.get(value, str(getattr(state, "name", state)).lower())


async def explain_missing_relay(ice: IceConfig, budget_s: float = 3.0) -> str:
    """Ask the TURN server aiortc used why no relay candidate came (aiortc itself does not say)."""
    from voicedesk.rtc.stun import ServerAddress, turn_allocate

    base = "relay-only call but no relay candidate was gathered"
    turn_url = ice.aiortc_urls[1]
    if turn_url is None:
        return f"{base}: no TURN server is configured"
    server = next(s for u, s in ice.urls if u == turn_url)
    try:
        verdict = await turn_allocate(
            ServerAddress.parse(turn_url), server.username, server.credential, budget_s, measure_rtt=False
        )
    except Exception as exc:  # the explanation must never hide the original failure
        logger.debug("TURN re-check failed", exc_info=True)
        return f"{base}: the TURN server refused the credentials or did not answer ({exc})"
    if verdict.ok:
        return f"{base}, yet {turn_url} allocates one now ({verdict.text}); try again"
    return f"{base}: {verdict.text}"
