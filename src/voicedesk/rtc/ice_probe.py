"""ICE gathering probe: what the Trickle ICE page shows, plus a verdict per server.

``await probe(config)`` gathers candidates with aioice (the library aiortc uses)
and, at the same time, asks every STUN/TURN server of the configuration itself
(``voicedesk.rtc.stun``), because aiortc keeps quiet about refused TURN
credentials and uses only the first STUN and the first TURN URL.

Gathering runs one aioice ``Connection`` for host candidates and one per server
URL, concurrently, so that each candidate carries the time it arrived and each
server is tried even when aiortc would ignore it (``used_by_aiortc`` says which
ones a call would use).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field, replace
from typing import Any

from aioice import Candidate, Connection, TransportPolicy

from voicedesk.config import IceConfig, IceServer
from voicedesk.rtc import stun
from voicedesk.rtc.ice_monitor import CandidateInfo
from voicedesk.rtc.stun import Outcome, ServerAddress, ServerVerdict

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = stun.DEFAULT_TIMEOUT
CANDIDATE_TYPES = ("host", "srflx", "prflx", "relay")


@dataclass(frozen=True)
class ProbeCandidate(CandidateInfo):
    """A gathered candidate (type host/srflx/prflx/relay, protocol, address, port, priority, related
    address), plus when it arrived and which server URL produced it. aioice gathers UDP only; TURN
    over TCP or TLS still yields a UDP relay candidate."""

    ms: float = 0.0  # since the probe started
    server: str | None = None  # None for host candidates
    foundation: str = ""

    @classmethod
    def from_gathered(cls, candidate: Candidate, ms: float, server: str | None) -> ProbeCandidate:
        return cls(
            **CandidateInfo.from_aioice(candidate).__dict__, ms=ms, server=server, foundation=candidate.foundation
        )

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), "ms": round(self.ms, 1), "server": self.server}


@dataclass(frozen=True)
class ProbeReport:
    policy: str
    candidates: tuple[ProbeCandidate, ...]
    verdicts: tuple[ServerVerdict, ...]
    warnings: tuple[str, ...]
    diagnosis: tuple[str, ...]
    duration_ms: float
    timeout_s: float
    config: dict[str, Any] = field(default_factory=dict)  # redacted

    @property
    def ok(self) -> bool:
        """Every server answered as it should and a call could gather what the policy needs."""
        if any(not v.ok for v in self.verdicts):
            return False
        return not (self.policy == "relay" and not any(c.type == "relay" for c in self.candidates))

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "policy": self.policy,
            "timeout_s": self.timeout_s,
            "duration_ms": round(self.duration_ms, 1),
            "candidates": [c.to_json() for c in self.candidates],
            "servers": [v.to_json() for v in self.verdicts],
            "warnings": list(self.warnings),
            "diagnosis": list(self.diagnosis),
            "config": self.config,
            "note": "aiortc uses only the servers marked used_by_aiortc; the probe tries them all",
        }


def _aioice_kwargs(address: ServerAddress, server: IceServer) -> dict[str, Any]:
    if address.is_turn:
        return {
            "turn_server": (address.host, address.port),
            "turn_username": server.username,
            "turn_password": server.credential,
            "turn_ssl": address.tls,
            "turn_transport": address.transport,
        }
    return {"stun_server": (address.host, address.port)}


async def _gather(
    t0: float, budget_s: float, policy: TransportPolicy, keep: str, url: str | None = None, **kwargs: Any
) -> list[ProbeCandidate]:
    """One aioice gathering; keep the candidates of type ``keep`` stamped with their arrival time."""
    connection = Connection(ice_controlling=True, transport_policy=policy, **kwargs)
    found: list[ProbeCandidate] = []
    try:
        # aioice gives up on servers after 5 s by itself; our timeout may be shorter
        await asyncio.wait_for(connection.gather_candidates(), budget_s)
        ms = (time.monotonic() - t0) * 1000
        found = [ProbeCandidate.from_gathered(c, ms, url) for c in connection.local_candidates if c.type == keep]
    except TimeoutError:
        pass
    except Exception as exc:  # aioice raises from odd places (bad host names, sockets)
        logger.info("gathering via %s failed: %s", url or "host interfaces", exc)
    finally:
        # close() forgets the candidates, so they are copied first; it also frees the TURN allocation
        with contextlib.suppress(Exception):
            await asyncio.wait_for(connection.close(), 2.0)
    return found


async def probe(
    config: IceConfig,
    *,
    timeout_s: float = DEFAULT_TIMEOUT,
    relay_only: bool = False,
    measure_rtt: bool = True,
) -> ProbeReport:
    """Gather every candidate the configuration can yield and ask each server what it thinks."""
    if relay_only and config.iceTransportPolicy != "relay":
        config = config.relay_only()
    t0 = time.monotonic()
    policy = TransportPolicy.RELAY if config.iceTransportPolicy == "relay" else TransportPolicy.ALL
    aiortc_stun, aiortc_turn = config.aiortc_urls

    gatherings: list[asyncio.Task[list[ProbeCandidate]]] = []
    checks: list[asyncio.Task[ServerVerdict]] = []
    bad_urls: list[ServerVerdict] = []
    async with asyncio.TaskGroup() as group:
        if policy == TransportPolicy.ALL:
            gatherings.append(group.create_task(_gather(t0, timeout_s, policy, "host"), name="probe-gather-host"))
        for url, server in config.urls:
            try:
                address = ServerAddress.parse(url)
            except ValueError as exc:
                bad_urls.append(ServerVerdict(url, "?", "?", url, Outcome.ERROR, str(exc), 0.0))
                continue
            if address.is_turn:
                check = stun.turn_allocate(address, server.username, server.credential, timeout_s, measure_rtt)
                keep = "relay"
            else:
                check = stun.stun_binding(address, timeout_s)
                keep = "srflx"
            checks.append(group.create_task(_guarded(check, address), name=f"probe-check-{url}"))
            if address.is_turn or policy == TransportPolicy.ALL:
                gatherings.append(
                    group.create_task(
                        _gather(t0, timeout_s + 0.5, policy, keep, url, **_aioice_kwargs(address, server)),
                        name=f"probe-gather-{url}",
                    )
                )

    candidates = sorted((c for task in gatherings for c in task.result()), key=lambda c: (c.ms, -c.priority))
    verdicts = [_mark_used(task.result(), aiortc_stun, aiortc_turn) for task in checks] + bad_urls
    report = ProbeReport(
        policy=config.iceTransportPolicy,
        candidates=tuple(candidates),
        verdicts=tuple(verdicts),
        warnings=config.warnings,
        diagnosis=(),
        duration_ms=(time.monotonic() - t0) * 1000,
        timeout_s=timeout_s,
        config=config.to_json(redact=True),
    )
    return replace(report, diagnosis=tuple(diagnose(report, config)))


async def _guarded(check: Coroutine[Any, Any, ServerVerdict], address: ServerAddress) -> ServerVerdict:
    """One server's surprise (a malformed answer, an odd socket error) must not sink the whole probe."""
    try:
        return await check
    except Exception as exc:
        logger.debug("checking %s failed", address.url, exc_info=True)
        text = f"{address.kind} server at {address.endpoint}: unexpected failure ({type(exc).__name__}: {exc})"
        return ServerVerdict(address.url, address.kind, address.via, address.endpoint, Outcome.ERROR, text, 0.0)


def _mark_used(verdict: ServerVerdict, aiortc_stun: str | None, aiortc_turn: str | None) -> ServerVerdict:
    return replace(verdict, used_by_aiortc=verdict.url in (aiortc_stun, aiortc_turn))


def diagnosis_for_turn(verdict: ServerVerdict) -> str:
    if verdict.outcome == Outcome.REFUSED:
        return (
            f"{verdict.url}: the TURN server refused the credentials; check username and credential "
            "(ephemeral ones expire: mint fresh ones with voicedesk ice credentials)"
        )
    if verdict.outcome == Outcome.NO_ANSWER:
        return (
            f"{verdict.url}: the TURN server did not answer; check host and port, that the server runs, "
            "and that a firewall lets this transport through (try ?transport=tcp or turns: on 443)"
        )
    return f"{verdict.url}: {verdict.text}"


def diagnose(report: ProbeReport, config: IceConfig) -> list[str]:
    """What a user should conclude from the probe, most important first."""
    notes: list[str] = []
    relays = [c for c in report.candidates if c.type == "relay"]
    aiortc_turn = config.aiortc_urls[1]
    turn_verdicts = [v for v in report.verdicts if v.kind == "TURN"]
    used_turn = next((v for v in turn_verdicts if v.used_by_aiortc), None)
    if report.policy == "relay":
        if not aiortc_turn:
            notes.append("relay-only but no TURN server: a call can gather no candidate and will fail")
        elif used_turn is not None and not used_turn.ok:
            notes.append("relay-only calls will fail: " + diagnosis_for_turn(used_turn))
        elif not relays:
            notes.append("relay-only calls will fail: aioice gathered no relay candidate")
    elif used_turn is not None and not used_turn.ok:
        notes.append(
            "calls fall back to host/srflx paths only (no relay for strict NATs or firewalls): "
            + diagnosis_for_turn(used_turn)
        )
    for verdict in turn_verdicts:
        if verdict is not used_turn and not verdict.ok:
            notes.append(diagnosis_for_turn(verdict) + " (aiortc would not use this server anyway)")
    for verdict in report.verdicts:
        if verdict.kind == "STUN" and not verdict.ok:
            notes.append(
                f"{verdict.url}: no reflexive address: {verdict.text}"
                + ("" if verdict.used_by_aiortc else " (aiortc would not use this server anyway)")
            )
    if report.policy == "all" and not any(c.type == "host" for c in report.candidates):
        notes.append("no host candidate: no usable network interface (aioice skips 127.0.0.1 and ::1)")
    if used_turn is not None and used_turn.ok and not relays:
        notes.append(f"{used_turn.url} allocated a relay for the probe but aioice gathered none")
    if not notes:
        notes.append("every server answered as configured")
    return notes


def format_report(report: ProbeReport) -> str:
    """The probe as a table and a list of verdicts, for the terminal."""
    lines = [f"{'type':<6} {'proto':<5} {'address':<40} {'priority':>10} {'related':<22} {'ms':>7}  server"]
    for c in report.candidates:
        related = f"{c.related_address}:{c.related_port}" if c.related_address else "-"
        lines.append(
            f"{c.type:<6} {c.protocol:<5} {c.address + ':' + str(c.port):<40} {c.priority:>10} "
            f"{related:<22} {c.ms:>7.0f}  {c.server or '-'}"
        )
    if not report.candidates:
        lines.append("(no candidates)")
    lines.append("")
    for verdict in report.verdicts:
        used = "" if verdict.used_by_aiortc else "  [not used by aiortc]"
        lines.append(f"{verdict.url}: {verdict.text}{used}")
    if not report.verdicts:
        lines.append("no STUN or TURN server configured: host candidates only")
    for warning in report.warnings:
        lines.append(f"warning: {warning}")
    lines.append("")
    lines.extend(f"diagnosis: {note}" for note in report.diagnosis)
    return "\n".join(lines)
