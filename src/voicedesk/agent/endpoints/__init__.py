"""Endpoints of the embedded agent server beyond JSON offer/answer.

``register(server, app)`` adds them to the server's aiohttp app (called from
``AgentServer._make_app``); each creates its sessions through
``AgentServer.create_session`` so the session limit and the clean-up hold:

- ``GET /``                      a page that calls the agent from any browser (``page.py``)
- ``OPTIONS|POST /whip``         WHIP (RFC 9725); ``DELETE /whip/sessions/<token>`` hangs up (``whip.py``)
- ``GET /ws``                    WebSocket JSON signaling (``websocket.py``)
- ``PATCH /api/offer``           pipecat's candidate PATCH ``{pc_id, candidates}`` (``pipecat.py``), also on
                                 ``/api/voice/offer``: pipecat's clients PATCH the URL they POSTed to

Every answer goes through the CORS middleware first (``agent/cors.py``: preflights, and
the headers a page on a ``serve --cors-origin`` origin needs), then the bearer check.

With a token set (``voicedesk serve --token``), every endpoint that creates or
changes a session needs ``Authorization: Bearer <token>`` (``auth.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from voicedesk.agent.cors import cors_middleware
from voicedesk.agent.endpoints.auth import bearer_middleware
from voicedesk.agent.endpoints.page import handle_page
from voicedesk.agent.endpoints.pipecat import PipecatCandidates
from voicedesk.agent.endpoints.websocket import WebSocketEndpoint
from voicedesk.agent.endpoints.whip import WhipEndpoint

if TYPE_CHECKING:
    from voicedesk.agent.server import AgentServer

__all__ = ["WHIP_ENDPOINT", "register"]

WHIP_ENDPOINT = web.AppKey("whip_endpoint", WhipEndpoint)


def register(server: AgentServer, app: web.Application) -> None:
    # outermost: a preflight never meets the bearer check, and a 401 still reaches the page
    app.middlewares.append(cors_middleware(server.cors))
    app.middlewares.append(bearer_middleware(server))
    app.router.add_get("/", handle_page)
    whip = WhipEndpoint(server)
    app.router.add_route("OPTIONS", "/whip", whip.handle_options)
    app.router.add_post("/whip", whip.handle_post)
    app.router.add_delete("/whip/sessions/{token}", whip.handle_delete)
    app.router.add_patch("/whip/sessions/{token}", whip.handle_patch)
    app[WHIP_ENDPOINT] = whip
    app.router.add_get("/ws", WebSocketEndpoint(server).handle)
    candidates = PipecatCandidates(server)
    app.router.add_patch("/api/offer", candidates.handle_patch)
    app.router.add_patch("/api/voice/offer", candidates.handle_patch)
