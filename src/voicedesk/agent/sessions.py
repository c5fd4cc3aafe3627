"""The agent's sessions, without a transport: answer an offer with a peer connection
running the agent, enforce the limits, and forget every session that ends.

``AgentServer`` (server.py) puts these behind HTTP for other clients; ``embedded:AGENT``
hands its offer to them in-process, so a call to the embedded agent needs no aiohttp,
no socket and no HTTP round trip (issue 11: launch to a connected call). Every way in
goes through ``create_session``, so limits and clean-up hold for all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription

from voicedesk.agent.admission import LoopLagMonitor
from voicedesk.agent.registry import Agent, check_agent_name, create_agent, prepare_agent
from voicedesk.agent.rtvi import RtviResponder
from voicedesk.config import IceConfig
from voicedesk.rtc import aiortc_patches
from voicedesk.rtc.liveness import RtpArrivals
from voicedesk.rtc.sdp import model as sdp_model
from voicedesk.rtc.sdp.refusal import refusal_reason
from voicedesk.rtc.telephone_event import DtmfReceived, TelephoneEventDecoder
from voicedesk.tasks import TaskOwner

# the logger name the server's session lines had before the split (what -v filters read)
logger = logging.getLogger("voicedesk.agent.server")

MAX_BODY = 64 * 1024  # a signaling request body (offer, WHIP, WebSocket message)
CONNECT_TIMEOUT = 30.0
PC_CLOSE_TIMEOUT = 5.0
# A connected caller that sends audio sends RTP all the time (silence is packets too), so
# this long without one means it died or its path broke; aiortc alone would hold the session
# until ICE consent fails (~30 s). Longer than a caller's own media timeout (5 s), so a
# caller on a broken path hears of it first.
MEDIA_TIMEOUT = 8.0


@dataclass
class Session:
    id: str
    pc: RTCPeerConnection
    agent: Agent
    created: float = field(default_factory=time.monotonic)
    closing: bool = False
    # set once the session connected or closed: ends the connect watchdog at once, so the
    # watchdog does not keep a finished call's peer connection alive for connect_timeout
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    rtp: RtpArrivals = field(default_factory=RtpArrivals)  # the caller's packets as they arrive
    watchdog: asyncio.Task[None] | None = None
    dtmf: TelephoneEventDecoder | None = None  # the caller's RFC 4733 key presses (watch_dtmf)
    rtvi: RtviResponder | None = None  # answers pipecat's RTVI clients (agent/rtvi.py)


class OfferError(Exception):
    """An offer the agent cannot answer; the message goes back to the caller."""


class AgentSessions:
    def __init__(
        self,
        agent: str = "echo",
        max_sessions: int = 50,
        connect_timeout: float = CONNECT_TIMEOUT,
        agent_options: dict[str, str] | None = None,
        max_loop_lag_ms: float | None = None,
        ice: IceConfig | None = None,
        media_timeout: float | None = MEDIA_TIMEOUT,
    ) -> None:
        """``ice``: the STUN/TURN servers every session's peer connection uses; None (or an
        empty configuration) gathers host candidates only, so a session never phones out."""
        self.agent = check_agent_name(agent)
        self.ice = ice or IceConfig()
        # a connected session whose caller sent no RTP for this long is closed; None = off
        self.media_timeout = media_timeout or None
        # admission control (agent/admission.py): refuse while the loop is this late, None = off
        self.max_loop_lag_ms = max_loop_lag_ms
        self.loop_lag = LoopLagMonitor()
        self.agent_options = dict(agent_options or {})  # e.g. {"delay": "500"} (voice_agents.py)
        self.max_sessions = max_sessions
        self.connect_timeout = connect_timeout
        self.sessions: dict[str, Session] = {}
        self.sessions_total = 0
        self._tasks = TaskOwner()

    async def start(self) -> None:
        # refuse to start (a message naming what to install) rather than fail each call
        prepare_agent(self.agent, self.agent_options)
        aiortc_patches.apply()
        self.loop_lag.start()
        loop = asyncio.get_running_loop()
        if loop.get_exception_handler() is None:
            loop.set_exception_handler(_loop_exception_handler)

    async def stop(self) -> None:
        await self.loop_lag.stop()
        await asyncio.gather(*(self.close_session(s, "server stopping") for s in list(self.sessions.values())))
        await self._tasks.cancel_all(PC_CLOSE_TIMEOUT)

    def at_capacity(self) -> bool:
        return self.busy_reason() is not None

    def busy_reason(self) -> str | None:
        """Why a new session would be refused now (a 503's text), or None."""
        if len(self.sessions) >= self.max_sessions:
            return f"server busy: {len(self.sessions)} live sessions (limit {self.max_sessions})"
        lag = self.loop_lag.median_ms()
        if self.max_loop_lag_ms is not None and lag > self.max_loop_lag_ms:
            return (
                f"server busy: its event loop runs {lag:.0f} ms late (limit {self.max_loop_lag_ms:g} ms) with "
                f"{len(self.sessions)} live sessions; another call would degrade every call"
            )
        return None

    async def create_session(self, offer_sdp: str) -> tuple[Session, str]:
        """Answer one offer with a new session running the agent.

        Raises ``OfferError`` with a message for the caller when the offer cannot be
        applied; nothing is left behind then.
        """
        if "a=fingerprint:" not in offer_sdp:
            # aiortc accepts it and then waits for ever in a DTLS handshake it cannot verify
            raise OfferError("the offer has no a=fingerprint: its DTLS certificate cannot be verified")
        pc = RTCPeerConnection(self.ice.to_rtc())  # never None: aiortc would add a public STUN server
        session = Session(id=secrets.token_hex(12), pc=pc, agent=create_agent(self.agent, self.agent_options))
        self.sessions[session.id] = session
        self.sessions_total += 1
        try:
            session.agent.attach(pc)
            # every session answers RTVI clients: pipecat's JS client waits for bot-ready
            session.rtvi = RtviResponder(session.agent, user_id=session.id, end_session=self._ender(session))
            session.rtvi.attach(pc)
            pc.on("connectionstatechange", lambda: self._on_state(session))
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            _watch_dtmf(session)
            if self.media_timeout is not None and _caller_sends_audio(offer_sdp):
                for transceiver in pc.getTransceivers():
                    if transceiver.kind == "audio":
                        session.rtp.watch(transceiver.receiver)
        except Exception as exc:  # aiortc raises many exception types on bad SDP
            await self.close_session(session, "bad offer", peer_first=True)
            text = str(exc).strip()
            detail = f"{type(exc).__name__}{': ' + text if text else ''}"
            raise OfferError(f"offer could not be applied: {refusal_reason(offer_sdp, 'offer', detail)}") from None
        self._tasks.spawn(self._expire_unconnected(session), f"session {session.id} connect watchdog")
        logger.info("session %s answered (%d live)", session.id, len(self.sessions))
        return session, pc.localDescription.sdp

    # session lifetime ---------------------------------------------------
    def _ender(self, session: Session) -> Callable[[str], None]:
        def end(why: str) -> None:
            self._tasks.spawn(self.close_session(session, why), f"close session {session.id}")

        return end

    def _on_state(self, session: Session) -> None:
        state = session.pc.connectionState
        logger.debug("session %s connectionState %s", session.id, state)
        if state == "connected":
            session.settled.set()
            if self.media_timeout is not None and session.rtp.watching and session.watchdog is None:
                watchdog = self._expire_silent(session)
                session.watchdog = self._tasks.spawn(watchdog, f"session {session.id} media watchdog")
        if state in ("failed", "closed"):
            self._tasks.spawn(self.close_session(session, state), f"close session {session.id}")

    async def _expire_unconnected(self, session: Session) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(session.settled.wait(), self.connect_timeout)
        if session.pc.connectionState != "connected" and not session.closing:
            await self.close_session(session, "did not connect in time")

    async def _expire_silent(self, session: Session) -> None:
        """Close the session once its caller has sent no RTP for ``media_timeout``."""
        assert self.media_timeout is not None
        await session.rtp.silence(self.media_timeout, time.monotonic() * 1000.0)  # from the connect
        if not session.closing:
            await self.close_session(session, f"no audio packets from the caller for {self.media_timeout:g} s")

    async def close_session(self, session: Session, why: str, *, peer_first: bool = False) -> None:
        """End a session: its agent, then its peer connection (``peer_first``: the other way round)."""
        if session.closing:
            return
        session.closing = True
        session.settled.set()
        # a watchdog left sleeping would keep the closed session's peer connection alive
        watchdog, session.watchdog = session.watchdog, None
        if watchdog is not None and watchdog is not asyncio.current_task():
            watchdog.cancel()
        self.sessions.pop(session.id, None)
        if peer_first:
            # a refused offer: setRemoteDescription may already have scheduled aiortc's
            # __connect, which would walk the half-made transports (a BUNDLE naming no section
            # leaves None) and raise in the background. close() marks the connection closed
            # before its first await, and __connect checks that first, so it must run before
            # anything else yields to the loop: awaited in this task (asyncio.timeout), not
            # wrapped in a new one (wait_for would schedule it behind __connect).
            await self._close_peer(session)
        with contextlib.suppress(Exception):
            await session.agent.close()
        if not peer_first:
            await self._close_peer(session)
        heard = ""
        if session.dtmf is not None:
            session.dtmf.finish()
            if session.dtmf.events:  # the session's DTMF summary, beside why it ended
                heard = f"; received DTMF {session.dtmf.tones!r} ({len(session.dtmf.events)} RFC 4733 events)"
        logger.info("session %s closed (%s); %d live%s", session.id, why, len(self.sessions), heard)

    @staticmethod
    async def _close_peer(session: Session) -> None:
        try:
            async with asyncio.timeout(PC_CLOSE_TIMEOUT):
                await session.pc.close()
        except Exception as exc:  # close() can raise after a failed negotiation
            logger.debug("closing session %s: %s", session.id, exc)


def _watch_dtmf(session: Session) -> None:
    """Decode the telephone-events the caller sends (rtc/telephone_event.py): each key press
    is logged, handed to the agent (``Agent.dtmf_received``) and kept for the close line."""
    started = session.created

    def received(event: DtmfReceived) -> None:
        logger.info(
            "session %s received DTMF %r (%.0f ms%s)",
            session.id,
            event.tone,
            event.duration_ms,
            "" if event.ended else ", end packets lost",
        )
        try:
            session.agent.dtmf_received(event)
        except Exception:
            logger.exception("the %s agent failed on a DTMF event", session.agent.name)

    session.dtmf = TelephoneEventDecoder(received, lambda: (time.monotonic() - started) * 1000.0)
    decoder = session.dtmf
    for transceiver in session.pc.getTransceivers():
        if transceiver.kind == "audio":
            aiortc_patches.observe_telephone_events(
                transceiver.receiver, lambda packet, clock: decoder.add(packet.timestamp, packet.payload, clock)
            )


def _caller_sends_audio(offer_sdp: str) -> bool:
    """A recvonly caller sends no RTP: its silence is not a dead caller (aiortc's ICE consent
    still frees it)."""
    try:
        offer = sdp_model.parse(offer_sdp)
    except Exception:
        return True
    return any(
        m.kind == "audio" and not m.rejected and offer.direction_of(m) in ("sendrecv", "sendonly") for m in offer.media
    )


def _loop_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """aiortc leaves stray task exceptions behind on bad input; log them, do not crash."""
    exc = context.get("exception")
    logger.warning("background error: %s%s", context.get("message"), f" ({exc!r})" if exc else "")
