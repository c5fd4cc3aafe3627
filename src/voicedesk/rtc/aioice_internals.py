"""The one place VoiceDesk reads aiortc's and aioice's ICE internals.

aiortc's ``getStats()`` has no ``candidate-pair`` entries (a browser's has), so the
ICE monitor (rtc/ice_monitor.py) reads the check list, the nominated pair and every
check's state changes from aioice's ``Connection`` under aiortc's ``RTCIceTransport``:
private names a release of either may rename. Each function here raises
``IceInternalsUnavailable`` naming what is missing, never a bare ``AttributeError``
from deep inside, so the monitor can say "not available" and the call goes on.

Upstream candidate: candidate-pair (and local/remote candidate) stats in aiortc's
``RTCIceTransport.getStats()``, read from a public check list in aioice; this module
then shrinks to reading those.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NamedTuple

from aioice import Candidate

from voicedesk.errors import VoiceDeskError

logger = logging.getLogger(__name__)

RTP_COMPONENT = 1  # aioice keys nominated pairs by ICE component; media uses the first


class IceInternalsUnavailable(VoiceDeskError):
    """What VoiceDesk reads from aiortc's or aioice's ICE internals is not in the installed versions."""


class PairParts(NamedTuple):
    local: Candidate
    remote: Candidate
    state: Any  # aioice's CandidatePair.State
    nominated: bool


def _attribute(owner: Any, name: str, where: str) -> Any:
    try:
        return getattr(owner, name)
    except AttributeError:
        raise IceInternalsUnavailable(f"{where} has no {name}") from None


def ice_connection(pc: Any) -> Any | None:
    """The aioice ``Connection`` under ``pc``'s first transport; None while there is no transport yet."""
    try:
        for transceiver in pc.getTransceivers():
            dtls = transceiver.sender.transport
            if dtls is not None:
                return _attribute(dtls.transport, "_connection", "aiortc's RTCIceTransport")
        sctp = getattr(pc, "sctp", None)
        if sctp is not None:
            return _attribute(sctp.transport.transport, "_connection", "aiortc's RTCIceTransport")
    except AttributeError as exc:  # aiortc's public objects changed shape
        raise IceInternalsUnavailable(f"aiortc's transports cannot be followed to aioice ({exc})") from None
    return None


def watch_checks(connection: Any, changed: Callable[[Any, Any], None]) -> None:
    """Call ``changed(pair, state)`` after every state change of a connectivity check on ``connection``.

    aioice makes every change through ``Connection.check_state``; an instance attribute
    shadows that method for this one connection. ``changed`` must not raise into aioice:
    what it raises is logged and dropped."""
    original = _attribute(connection, "check_state", "aioice's Connection")
    check_start = getattr(type(connection), "check_start", None)
    code = getattr(check_start, "__code__", None)
    if code is None or "check_state" not in code.co_names:  # the wrapper would see no check
        raise IceInternalsUnavailable("aioice's Connection.check_start no longer reports through check_state")

    def check_state(pair: Any, state: Any) -> None:
        original(pair, state)
        try:
            changed(pair, state)
        except Exception:  # never let bookkeeping break a check
            logger.debug("cannot record a check", exc_info=True)

    connection.check_state = check_state


def candidates(connection: Any) -> tuple[list[Candidate], list[Candidate]]:
    """Local and remote candidates (aioice forgets both when the connection closes)."""
    local = _attribute(connection, "local_candidates", "aioice's Connection")
    remote = _attribute(connection, "remote_candidates", "aioice's Connection")
    return list(local), list(remote)


def check_list(connection: Any) -> list[Any]:
    """Every candidate pair aioice has formed, checked or not."""
    return list(_attribute(connection, "_check_list", "aioice's Connection"))


def nominated_pair(connection: Any) -> Any | None:
    """The pair nominated for media, None before nomination."""
    nominated = _attribute(connection, "_nominated", "aioice's Connection")
    return nominated.get(RTP_COMPONENT)


def pair_parts(pair: Any) -> PairParts:
    return PairParts(
        local=_attribute(pair, "local_candidate", "aioice's CandidatePair"),
        remote=_attribute(pair, "remote_candidate", "aioice's CandidatePair"),
        state=_attribute(pair, "state", "aioice's CandidatePair"),
        nominated=bool(_attribute(pair, "nominated", "aioice's CandidatePair")),
    )
