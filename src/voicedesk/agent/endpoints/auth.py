"""Optional bearer token for the endpoints that create or change sessions.

Compared in constant time (``hmac.compare_digest``). A refusal is 401 with
``WWW-Authenticate: Bearer`` (RFC 6750). Browsers cannot put headers on a
WebSocket upgrade, so ``/ws`` also takes ``?access_token=`` (RFC 6750 §2.3).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from voicedesk.agent.server import AgentServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# methods that never need the token: the page, health, and CORS/WHIP discovery
OPEN_METHODS = {"GET", "HEAD", "OPTIONS"}
OPEN_PATHS = {"/", "/health"}


def presented_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if request.path == "/ws":
        return request.query.get("access_token") or None
    return None


def token_matches(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def unauthorized(request: web.Request, given: str | None) -> web.Response:
    challenge = 'Bearer realm="voicedesk"' + ("" if given is None else ', error="invalid_token"')
    message = "this server needs a bearer token" if given is None else "the bearer token is not valid"
    if request.path.startswith("/whip"):
        return web.json_response(
            {"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": message},
            status=401,
            content_type="application/problem+json",
            headers={"WWW-Authenticate": challenge},
        )
    return web.json_response({"error": message}, status=401, headers={"WWW-Authenticate": challenge})


def bearer_middleware(server: AgentServer) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    @web.middleware
    async def check_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        token = getattr(server, "token", None)
        guarded = request.path not in OPEN_PATHS and (request.method not in OPEN_METHODS or request.path == "/ws")
        if token and guarded:
            given = presented_token(request)
            if not token_matches(given, token):
                return unauthorized(request, given)
        return await handler(request)

    return check_token
