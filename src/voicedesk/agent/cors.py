"""Which web pages may call the agent servers from another origin (CORS), in one place.

A page served from ``http://127.0.0.1:3000`` that POSTs an offer to ``voicedesk serve`` on
``:8080`` is cross-origin: its browser first sends a preflight ``OPTIONS`` (the JSON body,
an ``Authorization`` header and ``PATCH``/``DELETE`` are not "simple"), then the request,
and hands the page the answer only if the server's ``Access-Control-*`` headers name the
page's origin. pipecat's JS client, WHIP players and the server's own page from a
different host all go that way.

``CorsPolicy`` lists the origins (``serve --cors-origin``, repeatable, none by default:
a server nobody configured answers no page but its own). Both ``AgentServer`` and the
``--workers`` front put :func:`cors_middleware` outermost, so:

- a preflight on any route of the app (a path it serves, whatever methods that path
  takes) from a listed origin is answered ``204`` here, before the bearer check
  (browsers never send credentials on a preflight) and before aiohttp's ``405``; a
  route's own ``OPTIONS`` answer (WHIP's ``Accept-Post``) is kept, with these headers
  added;
- every other answer to a listed origin, errors included (a ``401`` the page must be
  able to read), carries ``Access-Control-Allow-Origin`` and exposes the headers
  clients read: WHIP's ``Location``, ``ETag``, ``Link``, ``Accept-Post``/``Accept-Patch``;
  ``Retry-After`` on a 503; ``WWW-Authenticate`` on a 401;
- an origin not listed gets no CORS header at all, so its browser blocks the answer
  (the server still refuses nothing a non-browser client sends: CORS protects pages,
  not the server);
- WebSockets are the exception browsers make: they open a socket to any origin, with
  no preflight, and let the page read it. So a WebSocket upgrade that carries an
  ``Origin`` (only browsers send one) from neither this server's own origin nor a listed
  one is refused here with 403, or any web page a user opens could place calls through
  ``/ws`` to a server on their machine.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware

from voicedesk.errors import ConfigError

__all__ = ["CorsPolicy", "cors_middleware", "origin_problem"]

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# headers a cross-origin page may read from an answer (the CORS-safelisted ones need no listing)
EXPOSED_HEADERS = (
    *("Location", "ETag", "Link", "Accept-Post", "Accept-Patch"),  # WHIP (RFC 9725)
    *("Allow", "Retry-After", "WWW-Authenticate"),
)
# how long a browser may reuse a preflight's answer (Chromium caps it at 2 h)
PREFLIGHT_MAX_AGE_S = 600
ANY = "*"


def origin_problem(origin: str) -> str | None:
    """Why ``origin`` cannot be a ``--cors-origin`` (None when it can): a browser sends
    ``scheme://host[:port]`` with nothing after it, so anything else would never match."""
    if origin == ANY:
        return None
    scheme, sep, rest = origin.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest:
        return f"{origin!r} is not an origin: write scheme://host[:port], e.g. http://127.0.0.1:3000 (or *)"
    if "/" in rest or "?" in rest or "#" in rest:
        return f"{origin!r} is not an origin: no path, query or trailing slash (browsers send scheme://host[:port])"
    return None


@dataclass(frozen=True)
class CorsPolicy:
    """``origins``: the pages' origins allowed to call (``*`` allows any); empty allows none."""

    origins: tuple[str, ...] = ()

    @classmethod
    def of(cls, origins: Iterable[str] | None) -> CorsPolicy:
        """The policy for these origins; a ``ConfigError`` for one that is not an origin."""
        listed = [o.strip() for o in origins or ()]
        for origin in listed:
            why = origin_problem(origin)
            if why is not None:
                raise ConfigError(f"--cors-origin: {why}")
        # browsers send the scheme and host in lower case; a user may not type them so
        return cls(tuple(dict.fromkeys(_normalized(o) for o in listed)))

    @property
    def any_origin(self) -> bool:
        return ANY in self.origins

    def allows(self, origin: str | None) -> bool:
        # "null" is what sandboxed frames and file:// pages send: only * lets those in
        if not origin or not self.origins:
            return False
        return self.any_origin or _normalized(origin) in self.origins


def _normalized(origin: str) -> str:
    origin = origin.strip()
    scheme, sep, rest = origin.partition("://")
    return f"{scheme.lower()}://{rest.lower()}" if sep else origin


def _is_websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


def _same_origin(request: web.Request, origin: str) -> bool:
    """The page was served by this server (the origin's host:port is the one the request went to)."""
    _, sep, rest = origin.partition("://")
    return bool(sep) and rest.lower() == request.host.lower()


def _route_methods(request: web.Request) -> set[str] | None:
    """The methods the request's path takes, or None when the app serves no such path."""
    match = request.match_info
    error = match.http_exception
    if isinstance(error, web.HTTPMethodNotAllowed):
        return {m.upper() for m in error.allowed_methods}
    if error is not None:
        return None  # 404: preflight a path that does not exist and the browser hears so
    resource = match.route.resource
    if resource is None:
        return None
    return {route.method.upper() for route in resource}


def _add_origin(response: web.StreamResponse, origin: str, *, expose: bool = False) -> None:
    """Let ``origin``'s page have the answer (``expose``: and read the headers clients need)."""
    target = response.headers
    target["Access-Control-Allow-Origin"] = origin
    # the answer depends on who asked: a shared cache must not hand one origin's to another
    vary = target.get("Vary")
    if not vary:
        target["Vary"] = "Origin"
    elif "origin" not in vary.lower():
        target["Vary"] = f"{vary}, Origin"
    if expose:
        target["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)


def cors_middleware(policy: CorsPolicy) -> Middleware:
    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if not policy.allows(origin):
            if origin is not None and _is_websocket(request) and not _same_origin(request, origin):
                logger.warning("WebSocket from %s refused: not this server's origin nor a --cors-origin", origin)
                return web.json_response(
                    {"error": f"WebSocket from the page at {origin} refused: start serve with --cors-origin {origin}"},
                    status=403,
                )
            return await handler(request)
        assert origin is not None
        asked = request.headers.get("Access-Control-Request-Method")
        if request.method == "OPTIONS" and asked:
            return await _preflight(request, handler, origin, asked)
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # aiohttp's own 404/405/408/413: the page should read them too
            _add_origin(exc, origin, expose=True)
            raise
        if not response.prepared:  # a WebSocket has sent its headers already (and CORS does not apply)
            _add_origin(response, origin, expose=True)
        return response

    return cors


async def _preflight(request: web.Request, handler: Handler, origin: str, asked: str) -> web.StreamResponse:
    methods = _route_methods(request)
    if methods is None:
        return await handler(request)  # no such path: its 404, without CORS headers
    if "*" in methods:  # a catch-all route (the --workers front) takes whatever is asked
        methods = {asked.upper()}
    methods |= {"OPTIONS"}
    if "GET" in methods:
        methods.add("HEAD")
    response: web.StreamResponse
    if request.match_info.http_exception is None:
        # the route answers OPTIONS itself (WHIP: Accept-Post); keep what it says
        response = await handler(request)
        if response.prepared:
            return response
    else:
        response = web.Response(status=204)
    _add_origin(response, origin)
    response.headers["Access-Control-Allow-Methods"] = ", ".join(sorted(methods))
    requested_headers = request.headers.get("Access-Control-Request-Headers")
    if requested_headers:
        # whatever the page asked for (Content-Type, Authorization, a client's own headers):
        # the origin is the boundary, not the header names
        response.headers["Access-Control-Allow-Headers"] = requested_headers
        response.headers["Vary"] = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE_S)
    if asked.upper() not in methods:
        logger.debug("CORS preflight for %s %s from %s: the path takes %s", asked, request.path, origin, methods)
    return response
