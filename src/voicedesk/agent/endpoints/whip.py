"""The WHIP endpoint (RFC 9725) of the embedded agent server.

``POST /whip`` (``application/sdp``) answers ``201 Created`` with the SDP answer
and ``Location: /whip/sessions/<token>``; the token is 192 random bits, so a
session URL cannot be guessed from another. ``DELETE`` on it hangs up; on a session
that ended on its own in the last ``ENDED_KEEP_S`` it answers 200 as well (a client may
close its connection before it sends the DELETE, and the session ends with it); 404 for
one never seen, long gone, or already DELETEd. ``OPTIONS /whip`` answers ``Accept-Post:
application/sdp``. Errors are ``application/problem+json`` (RFC 9457). Trickle
(PATCH) is answered 405: the server gathers its candidates before answering.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from aiohttp import web

from voicedesk.agent.http_limits import read_body
from voicedesk.agent.sessions import MAX_BODY, OfferError, Session

if TYPE_CHECKING:
    from voicedesk.agent.server import AgentServer

logger = logging.getLogger(__name__)

ALLOW_ENDPOINT = "OPTIONS, POST"
ALLOW_RESOURCE = "DELETE"
ENDED_KEEP_S = 300.0  # how long an ended session's DELETE is still answered 200
ENDED_KEEP_MAX = 10_000  # and at most this many ended tokens (44 bytes each) are kept


def problem(status: int, title: str, detail: str, **headers: str) -> web.Response:
    return web.json_response(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status=status,
        content_type="application/problem+json",
        headers=headers or None,
    )


class WhipEndpoint:
    def __init__(self, server: AgentServer) -> None:
        self.server = server
        self.resources: dict[str, Session] = {}
        # sessions that ended without a DELETE: token -> when that was seen, oldest first
        self.ended: OrderedDict[str, float] = OrderedDict()

    def _forget_ended(self) -> None:
        now = time.monotonic()
        for token, session in list(self.resources.items()):
            if session.closing:
                del self.resources[token]
                self.ended[token] = now
        while self.ended and (len(self.ended) > ENDED_KEEP_MAX or next(iter(self.ended.values())) < now - ENDED_KEEP_S):
            self.ended.popitem(last=False)

    async def handle_options(self, request: web.Request) -> web.Response:
        return web.Response(
            status=204, headers={"Accept-Post": "application/sdp", "Allow": ALLOW_ENDPOINT, "Cache-Control": "no-store"}
        )

    async def handle_post(self, request: web.Request) -> web.Response:
        self._forget_ended()
        if request.content_length is not None and request.content_length > MAX_BODY:
            return problem(413, "Payload Too Large", f"the offer is over {MAX_BODY // 1024} KiB")
        if request.content_type != "application/sdp":
            return problem(
                415,
                "Unsupported Media Type",
                f"WHIP offers are application/sdp, not {request.content_type or 'none'}",
                **{"Accept-Post": "application/sdp"},
            )
        try:
            body = await read_body(request)
        except web.HTTPRequestEntityTooLarge:
            return problem(413, "Payload Too Large", f"the offer is over {MAX_BODY // 1024} KiB")
        sdp = body.decode("utf-8", "replace")
        if not sdp.lstrip().startswith("v=0"):
            return problem(400, "Bad Request", "the body is not SDP: it does not start with v=0")
        if self.server.at_capacity():
            return problem(
                503,
                "Service Unavailable",
                self.server.busy_reason() or "server busy",
                **{"Retry-After": "5"},
            )
        try:
            session, answer = await self.server.create_session(sdp)
        except OfferError as exc:
            return problem(400, "Bad Request", str(exc))
        token = secrets.token_urlsafe(24)
        self.resources[token] = session
        return web.Response(
            status=201,
            body=answer.encode(),
            content_type="application/sdp",
            headers={"Location": f"/whip/sessions/{token}", "ETag": f'"{session.id}"', "Cache-Control": "no-store"},
        )

    def _session(self, request: web.Request) -> Session | None:
        session = self.resources.get(request.match_info["token"])
        return None if session is None or session.closing else session

    async def handle_delete(self, request: web.Request) -> web.Response:
        self._forget_ended()
        token = request.match_info["token"]
        session = self.resources.pop(token, None)
        if session is None:
            if token in self.ended:  # it ended a moment ago (the client closed first): done, as asked
                return web.Response(status=200)
            return problem(404, "Not Found", "no such WHIP session (it ended or never existed)")
        await self.server.close_session(session, "WHIP DELETE")
        return web.Response(status=200)

    async def handle_patch(self, request: web.Request) -> web.Response:
        if self._session(request) is None:
            return problem(404, "Not Found", "no such WHIP session (it ended or never existed)")
        return problem(
            405,
            "Method Not Allowed",
            "this endpoint does not take trickled candidates: send them in the offer",
            Allow=ALLOW_RESOURCE,
        )
