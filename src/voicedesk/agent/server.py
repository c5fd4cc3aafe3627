"""The embedded agent server: aiohttp + aiortc, one peer connection per session.

Endpoints:
- ``POST /api/voice/offer`` JSON ``{"sdp","type"[, "pc_id"]}`` -> ``{"sdp","type","pc_id"}``
  (also ``/api/offer``, where pipecat's clients post; both take pipecat's candidate ``PATCH``)
- ``GET /health`` -> ``{"status","agent","sessions","max_sessions",…,"ice"}`` (``ice``: the STUN/TURN
  servers sessions use, credentials masked, and what they gather)

Started with ``AppRunner`` (never ``web.run_app``) so it can share a loop with
qasync or a test. Every session is closed and forgotten when its connection
fails, closes, or does not connect in time.
"""

from __future__ import annotations

import logging
import os

from aiohttp import web

from voicedesk.agent.cors import CorsPolicy
from voicedesk.agent.http_limits import DEFAULT_LIMITS, HttpLimits, read_body, start_http
from voicedesk.agent.sessions import CONNECT_TIMEOUT, MAX_BODY, MEDIA_TIMEOUT, AgentSessions, OfferError, Session
from voicedesk.config import IceConfig
from voicedesk.rtc.signaling.log import parse_json

__all__ = ["MAX_BODY", "AgentServer", "OfferError", "Session", "http_base_url", "ice_health", "json_error"]

logger = logging.getLogger(__name__)


def http_base_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def json_error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers or None)


def ice_health(ice: IceConfig) -> dict[str, object]:
    """What ``/health`` says of the ICE configuration: servers with credentials masked, and
    what they gather (``host candidates only`` unless ``serve --ice`` named servers)."""
    return {**ice.to_json(redact=True), "candidates": ice.describe_candidates()}


class AgentServer(AgentSessions):
    """The agent's sessions behind HTTP (and the endpoints in ``agent/endpoints``)."""

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
        http_limits: HttpLimits = DEFAULT_LIMITS,
        ice: IceConfig | None = None,
        media_timeout: float | None = MEDIA_TIMEOUT,
        cors: CorsPolicy | None = None,
    ) -> None:
        super().__init__(
            agent,
            max_sessions=max_sessions,
            connect_timeout=connect_timeout,
            agent_options=agent_options,
            max_loop_lag_ms=max_loop_lag_ms,
            ice=ice,
            media_timeout=media_timeout,
        )
        self.host = host
        self.port = port
        self.token = token  # bearer token for the endpoints that create sessions (endpoints/auth.py)
        self.http_limits = http_limits
        self.cors = cors or CorsPolicy()  # the other origins whose pages may call (agent/cors.py)
        self._runner: web.AppRunner | None = None
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
        await super().start()
        self._runner, self.port = await start_http(self.app, self.host, self.port, self.http_limits)
        logger.info("agent server (%s) listening on %s", self.agent, self.base_url)

    async def stop(self) -> None:
        await super().stop()
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
                "ice": ice_health(self.ice),
            }
        )

    async def handle_offer(self, request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_BODY:
            return json_error(413, f"request body over {MAX_BODY // 1024} KiB")
        if request.content_type != "application/json":
            return json_error(415, f"expected Content-Type application/json, got {request.content_type or 'none'}")
        try:
            body = await read_body(request)
        except web.HTTPRequestEntityTooLarge:
            return json_error(413, f"request body over {MAX_BODY // 1024} KiB")
        try:
            data = parse_json(body)
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
