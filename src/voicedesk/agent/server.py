"""The embedded agent server: aiohttp + aiortc, one peer connection per session.

Endpoints:
- ``POST /api/voice/offer`` JSON ``{"sdp","type"[, "pc_id"]}`` -> ``{"sdp","type","pc_id"}``
- ``GET /health`` -> ``{"status","agent","sessions","max_sessions"}``

Started with ``AppRunner`` (never ``web.run_app``) so it can share a loop with
qasync or a test. Every session is closed and forgotten when its connection
fails, closes, or does not connect in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription

from voicedesk.agent.admission import LoopLagMonitor
from voicedesk.agent.agents import Agent, check_agent_name, create_agent, prepare_agent
from voicedesk.rtc import aiortc_patches
from voicedesk.tasks import TaskOwner

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
CONNECT_TIMEOUT = 30.0
PC_CLOSE_TIMEOUT = 5.0


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


class OfferError(Exception):
    """An offer the server cannot answer; the message goes back to the caller."""


def http_base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def json_error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


class AgentServer:
    def __init__(
        self,
        agent: str = "echo",
        host: str = "127.0.0.1",
        port: int = 8080,
        max_sessions: int = 50,
        connect_timeout: float = CONNECT_TIMEOUT,
        token: str | None = None,
        agent_options: dict[str, str] | None = None,
        max_loop_lag_ms: float | None = None,
    ) -> None:
        self.agent = check_agent_name(agent)
        # admission control (agent/admission.py): 503 while the loop is this late, None = off
        self.max_loop_lag_ms = max_loop_lag_ms
        self.loop_lag = LoopLagMonitor()
        self.agent_options = dict(agent_options or {})  # e.g. {"delay": "500"} (voice_agents.py)
        self.host = host
        self.port = port
        self.max_sessions = max_sessions
        self.connect_timeout = connect_timeout
        self.token = token  # bearer token for the endpoints that create sessions (endpoints/auth.py)
        self.sessions: dict[str, Session] = {}
        self.sessions_total = 0
        self._runner: web.AppRunner | None = None
        self._tasks = TaskOwner()
        self.app = self._make_app()

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_post("/api/voice/offer", self.handle_offer)
        app.router.add_post("/api/offer", self.handle_offer)
        app.router.add_get("/health", self.handle_health)
        from voicedesk.agent.endpoints import register as register_endpoints  # they import this module

        register_endpoints(self, app)
        return app

    @property
    def base_url(self) -> str:
        return http_base_url(self.host, self.port)

    @property
    def offer_url(self) -> str:
        return f"{self.base_url}/api/voice/offer"

    async def start(self) -> None:
        # refuse to start (a message naming what to install) rather than fail each call
        prepare_agent(self.agent, self.agent_options)
        aiortc_patches.apply()
        self.loop_lag.start()
        loop = asyncio.get_running_loop()
        if loop.get_exception_handler() is None:
            loop.set_exception_handler(_loop_exception_handler)
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = site._server.sockets if site._server else []  # the bound port when port=0
        if sockets:
            self.port = sockets[0].getsockname()[1]
        logger.info("agent server (%s) listening on %s", self.agent, self.base_url)

    async def stop(self) -> None:
        await self.loop_lag.stop()
        await asyncio.gather(*(self.close_session(s, "server stopping") for s in list(self.sessions.values())))
        await self._tasks.cancel_all(PC_CLOSE_TIMEOUT)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # handlers -----------------------------------------------------------
    async def handle_health(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "status": "ok",
                "agent": self.agent,
                "sessions": len(self.sessions),
                "sessions_total": self.sessions_total,
                "max_sessions": self.max_sessions,
                "loop_lag_ms": round(self.loop_lag.median_ms(), 1),
                "max_loop_lag_ms": self.max_loop_lag_ms,
                "pid": os.getpid(),
            }
        )

    async def handle_offer(self, request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_BODY:
            return json_error(413, f"request body over {MAX_BODY // 1024} KiB")
        if request.content_type != "application/json":
            return json_error(415, f"expected Content-Type application/json, got {request.content_type or 'none'}")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return json_error(413, f"request body over {MAX_BODY // 1024} KiB")
        try:
            data = json.loads(body)
        except ValueError as exc:
            return json_error(400, f"body is not valid JSON: {exc}")
        if not isinstance(data, dict) or not isinstance(data.get("sdp"), str):
            return json_error(400, 'body must be a JSON object with "sdp" and "type"')
        if data.get("type") != "offer":
            return json_error(400, f'"type" must be "offer", not {data.get("type")!r}')
        if not data["sdp"].lstrip().startswith("v=0"):
            return json_error(400, '"sdp" is not SDP: it does not start with v=0')
        busy = self.busy_reason()
        if busy:
            return json_error(503, busy, **{"Retry-After": "5"})

        try:
            session, answer_sdp = await self.create_session(data["sdp"])
        except OfferError as exc:
            return json_error(400, str(exc))
        return web.json_response({"sdp": answer_sdp, "type": "answer", "pc_id": session.id})

    def at_capacity(self) -> bool:
        return self.busy_reason() is not None

    def busy_reason(self) -> str | None:
        """Why a new session would be refused now (the 503's text), or None."""
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
        """Answer one offer with a new session running the server's agent.

        Every endpoint (JSON, WHIP, WebSocket) goes through here, so the limits and
        the clean-up hold for all of them. Raises ``OfferError`` with a message for
        the caller when the offer cannot be applied; nothing is left behind then.
        """
        pc = RTCPeerConnection()
        session = Session(id=secrets.token_hex(12), pc=pc, agent=create_agent(self.agent, self.agent_options))
        self.sessions[session.id] = session
        self.sessions_total += 1
        try:
            session.agent.attach(pc)
            pc.on("connectionstatechange", lambda: self._on_state(session))
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as exc:  # aiortc raises many exception types on bad SDP
            await self.close_session(session, "bad offer")
            text = str(exc).strip()
            raise OfferError(f"offer could not be applied: {type(exc).__name__}{': ' + text if text else ''}") from None
        self._own(self._expire_unconnected(session), f"session {session.id} connect watchdog")
        logger.info("session %s answered (%d live)", session.id, len(self.sessions))
        return session, pc.localDescription.sdp

    # session lifetime ---------------------------------------------------
    def _on_state(self, session: Session) -> None:
        state = session.pc.connectionState
        logger.debug("session %s connectionState %s", session.id, state)
        if state == "connected":
            session.settled.set()
        if state in ("failed", "closed"):
            self._own(self.close_session(session, state), f"close session {session.id}")

    async def _expire_unconnected(self, session: Session) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(session.settled.wait(), self.connect_timeout)
        if session.pc.connectionState != "connected" and not session.closing:
            await self.close_session(session, "did not connect in time")

    async def close_session(self, session: Session, why: str) -> None:
        if session.closing:
            return
        session.closing = True
        session.settled.set()
        self.sessions.pop(session.id, None)
        with contextlib.suppress(Exception):
            await session.agent.close()
        try:
            await asyncio.wait_for(session.pc.close(), PC_CLOSE_TIMEOUT)
        except Exception as exc:  # close() can raise after a failed negotiation
            logger.debug("closing session %s: %s", session.id, exc)
        logger.info("session %s closed (%s); %d live", session.id, why, len(self.sessions))

    def _own(self, coro: Any, name: str) -> None:
        self._tasks.spawn(coro, name)


def _loop_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """aiortc leaves stray task exceptions behind on bad input; log them, do not crash."""
    exc = context.get("exception")
    logger.warning("background error: %s%s", context.get("message"), f" ({exc!r})" if exc else "")
