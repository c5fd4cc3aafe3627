from __future__ import annotations

import contextlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any

from aiortc import RTCIceCandidate, RTCIceServer, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

from voicedesk.rtc.signaling.log import SignalingExchanged, log_exchange

logger = logging.getLogger(__name__)

CandidateHandler = Callable[[RTCIceCandidate | None], Awaitable[None]]
ExchangeListener = Callable[[SignalingExchanged], None]
HangupListener = Callable[[str], None]


class Signaling(ABC):
    """Carries one offer to a target and brings back its answer.

    The call drives it in this order: ``prepare()`` (before the peer connection
    exists: ICE servers the target announces, e.g. WHIP ``Link`` headers, because
    aiortc has no ``setConfiguration``), ``exchange(offer)``, then
    ``set_remote_candidate_handler`` for protocols that trickle candidates after
    the answer (candidates that arrive earlier are held until then), and
    ``close()`` on hang-up. Every request/response or message is recorded as a
    ``SignalingExchanged`` event for ``add_listener`` subscribers.

    A protocol whose channel carries the call's life (a WebSocket, Janus's long poll)
    calls ``peer_hung_up(why)`` when that channel ends from the far side; the call
    (``add_hangup_listener``) ends as "the peer hung up". Not after ``close()``: our
    own hang-up is not the peer's.
    """

    description: str = "signaling"
    protocol: str = "signaling"
    # the target writes turn events on the "voicedesk" data channel (rtc/events/voicedesk.py),
    # so a call opens it by default; only targets that are known to (VoiceDesk's agents)
    sends_agent_events: bool = False

    @property
    def agent_events_protocol(self) -> str | None:
        """The agent events protocol (rtc/events/) a call reads by default: the target's own
        (RTVI for pipecat, OpenAI's events), ``voicedesk`` for agents that send it, or None."""
        return "voicedesk" if self.sends_agent_events else None

    def __init__(self) -> None:
        self.on_remote_candidate: CandidateHandler | None = None
        self._pending_candidates: list[RTCIceCandidate | None] = []
        self._exchange_listeners: list[ExchangeListener] = []
        self._hangup_listeners: list[HangupListener] = []
        self.exchanges: list[SignalingExchanged] = []
        self.hung_up: str | None = None  # why the far side ended the channel, once it has

    async def prepare(self) -> list[RTCIceServer]:
        """Learn what must be known before the peer connection is created (extra ICE servers)."""
        return []

    @abstractmethod
    async def exchange(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        """Send the offer, return the answer; raise ``SignalingError`` with a user message."""

    async def add_local_candidates(self, candidates: list[RTCIceCandidate]) -> None:  # noqa: B027 - optional
        """Send local candidates found after the offer (aiortc gathers before it, so rarely used)."""

    async def close(self) -> None:  # noqa: B027 - optional hook, most protocols need none
        """Tell the target the call is over (if the protocol can) and free resources."""

    # exchange log ---------------------------------------------------------
    def add_listener(self, listener: ExchangeListener) -> None:
        self._exchange_listeners.append(listener)

    def record(self, event: SignalingExchanged) -> None:
        self.exchanges.append(event)
        log_exchange(event)
        for listener in list(self._exchange_listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("signaling listener failed")

    # the far side hanging up ---------------------------------------------
    def add_hangup_listener(self, listener: HangupListener) -> None:
        """``listener(why)`` once, when the channel that carries the call ends from the far side."""
        self._hangup_listeners.append(listener)

    def peer_hung_up(self, why: str) -> None:
        """A protocol calls this when its channel ended from the far side (``why``: one line)."""
        if self.hung_up is not None:
            return
        self.hung_up = why
        logger.info("%s: the peer hung up: %s", self.description, why)
        for listener in list(self._hangup_listeners):
            try:
                listener(why)
            except Exception:
                logger.exception("hang-up listener failed")

    # trickled remote candidates -------------------------------------------
    async def set_remote_candidate_handler(self, handler: CandidateHandler) -> None:
        """Deliver trickled remote candidates to ``handler`` (held ones first)."""
        pending, self._pending_candidates = self._pending_candidates, []
        self.on_remote_candidate = handler
        for candidate in pending:
            await self._hand_over(candidate)

    async def deliver_remote_candidate(self, candidate: RTCIceCandidate | None) -> None:
        """A protocol calls this for each remote candidate (None: end of candidates)."""
        if self.on_remote_candidate is None:
            self._pending_candidates.append(candidate)
        else:
            await self._hand_over(candidate)

    async def _hand_over(self, candidate: RTCIceCandidate | None) -> None:
        assert self.on_remote_candidate is not None
        with contextlib.suppress(Exception):
            await self.on_remote_candidate(candidate)


def candidate_from_json(data: Any) -> RTCIceCandidate | None:
    """A browser ``RTCIceCandidateInit`` ({candidate, sdpMid, sdpMLineIndex}) as aiortc's type.

    Returns None for an end-of-candidates marker (empty candidate or ``completed``);
    raises ValueError for anything that is not a candidate.
    """
    if not isinstance(data, dict):
        raise ValueError("a candidate must be a JSON object")
    line = data.get("candidate")
    if data.get("completed") or not line:
        return None
    if not isinstance(line, str):
        raise ValueError('"candidate" must be a string')
    line = line.strip()
    if line.startswith("a="):
        line = line[2:]
    if line.startswith("candidate:"):
        line = line[len("candidate:") :]
    candidate = candidate_from_sdp(line)
    candidate.sdpMid = data.get("sdpMid", data.get("sdp_mid"))
    index = data.get("sdpMLineIndex", data.get("sdp_mline_index"))
    candidate.sdpMLineIndex = index if isinstance(index, int) else None
    if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
        candidate.sdpMLineIndex = 0  # a single audio m-line: the only sensible place
    return candidate


def candidate_to_json(candidate: RTCIceCandidate) -> dict[str, Any]:
    """aiortc's candidate as the browser's ``RTCIceCandidateInit``."""
    from aiortc.sdp import candidate_to_sdp

    return {
        "candidate": "candidate:" + candidate_to_sdp(candidate),
        "sdpMid": candidate.sdpMid,
        "sdpMLineIndex": candidate.sdpMLineIndex,
    }
