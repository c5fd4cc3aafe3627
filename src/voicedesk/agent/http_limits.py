"""How long and how many: the agent servers' HTTP limits, in one place.

Both ``AgentServer`` and the ``--workers`` front (``workers.py``) start aiohttp
through :func:`start_http`, so both get:

- **an idle / header timeout**: aiohttp's ``keepalive_timeout`` (3,630 s by
  default, sized to outlive a reverse proxy) also runs from the moment a
  connection is accepted (``RequestHandler.connection_made`` in aiohttp 3.14;
  tests/integration/test_server_hardening.py checks it holds), so it closes a
  socket that never sends a request, or never finishes its request line and headers;
- **a body timeout**: aiohttp has no setting for a body that stops half-way, so
  handlers read bodies with :func:`read_body`;
- **a cap on open connections** (:class:`CappedTCPSite`): past it a new
  connection gets ``503`` and is closed at once, so sockets held open by slow
  clients cannot exhaust file descriptors the calls need;
- **one log line per malformed request** (:class:`OneLineBadRequests`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from dataclasses import dataclass

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

__all__ = [
    "CappedTCPSite",
    "HttpLimits",
    "OneLineBadRequests",
    "read_body",
    "start_http",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HttpLimits:
    """``idle_timeout``: seconds a connection may stay without a complete request
    (before the first and between requests); ``body_timeout``: seconds to receive a
    request body; ``max_connections``: open connections before new ones get 503;
    ``backlog``: connections the kernel queues before they are accepted."""

    # longer than the 15 s aiohttp's client keeps an idle pooled connection (the --workers
    # front forwards through one): the client must give up on a connection first, or a
    # POST sent on it as the server closes it fails (only idempotent requests are retried)
    idle_timeout: float = 30.0
    body_timeout: float = 10.0
    # below the usual 1,024 file descriptors, leaving room for the calls' UDP sockets;
    # a WebSocket call holds one for its whole life, a JSON or WHIP call only while signaling
    max_connections: int = 512
    backlog: int = 128


DEFAULT_LIMITS = HttpLimits()

LIMITS = web.AppKey("http_limits", HttpLimits)  # the limits an app runs with (read_body's timeout)

# what a connection over the cap is told before it is closed (it never reaches aiohttp)
_REFUSAL_BODY = json.dumps({"error": "server busy: too many open connections"}).encode()
_REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 5\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_REFUSAL_BODY), _REFUSAL_BODY)
)


class OneLineBadRequests(logging.Filter):
    """aiohttp answers a malformed request (garbage request line, ``Content-Length:
    -1``, a length with chunked, NUL in the path) with a correct 400, then logs it at
    ERROR with the parser's traceback (``RequestHandler.handle_error`` on the
    ``aiohttp.server`` logger), ~10 lines for what is the client's mistake. This turns
    those records into one WARNING line; every other record passes unchanged.

    Upstream candidate: aiohttp already logs a bad *method* on a connection's first
    request at DEBUG without the traceback; the same for every ``HttpProcessingError``
    would make this filter unnecessary.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and str(record.msg).startswith("Error handling request"):
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "a client"
            # aiohttp's message spans lines and ends with a caret under the bad byte
            reason = " ".join(str(exc.message or exc).split()).removesuffix(" ^")[:200]
            record.msg = "malformed HTTP request from %s answered %d: %s"
            record.args = (remote, exc.code or 400, reason)
            record.exc_info = None
            record.exc_text = None
            if record.levelno > logging.WARNING:
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_BAD_REQUESTS = OneLineBadRequests()


def _install_log_filter() -> None:
    # aiohttp logs through its module-level "aiohttp.server" logger; a filter there is
    # the one place that sees these records (adding it twice is a no-op)
    logging.getLogger("aiohttp.server").addFilter(_BAD_REQUESTS)


class _Refused(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(_REFUSAL)
        transport.close()


class CappedTCPSite(web.BaseSite):
    """``web.TCPSite`` that refuses connections past ``max_connections`` with 503.

    aiohttp has no such setting; a site is where it hands its protocol factory to
    ``loop.create_server``, so this is where a factory that counts can go in.
    """

    def __init__(self, runner: web.BaseRunner, host: str, port: int, limits: HttpLimits = DEFAULT_LIMITS) -> None:
        super().__init__(runner, backlog=limits.backlog)
        self._host = host
        self._port = port
        self._max_connections = limits.max_connections
        self.refused = 0  # connections turned away at the cap
        self._listening: asyncio.Server | None = None  # BaseSite types its _server as AbstractServer

    @property
    def name(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    @property
    def sockets(self) -> list[socket.socket]:
        return list(self._listening.sockets) if self._listening is not None else []

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        cap = self._max_connections

        def protocol() -> asyncio.BaseProtocol:
            if len(server.connections) >= cap:
                self.refused += 1
                if self.refused == 1 or self.refused % 100 == 0:
                    logger.warning("%d connection(s) refused: %d are open (the cap)", self.refused, cap)
                return _Refused()
            return server()

        self._listening = await asyncio.get_running_loop().create_server(
            protocol, self._host, self._port, backlog=self._backlog
        )
        self._server = self._listening  # what BaseSite.stop closes


async def start_http(
    app: web.Application, host: str, port: int, limits: HttpLimits = DEFAULT_LIMITS
) -> tuple[web.AppRunner, int]:
    """Set up and start ``app`` on ``host:port`` with ``limits``; the runner and the bound port."""
    _install_log_filter()
    app[LIMITS] = limits
    runner = web.AppRunner(app, access_log=None, handle_signals=False, keepalive_timeout=limits.idle_timeout)
    await runner.setup()
    site = CappedTCPSite(runner, host, port, limits)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    sockets = site.sockets
    return runner, sockets[0].getsockname()[1] if sockets else port


async def read_body(request: web.Request) -> bytes:
    """``request.read()`` within the app's ``HttpLimits.body_timeout``.

    Raises ``web.HTTPRequestTimeout`` (408, ``{"error"}``), which aiohttp answers
    itself; the connection is then closed, since the rest of the body may still come.
    """
    timeout = request.app.get(LIMITS, DEFAULT_LIMITS).body_timeout
    try:
        async with asyncio.timeout(timeout):
            return await request.read()
    except TimeoutError:
        refusal = web.HTTPRequestTimeout(
            text=json.dumps({"error": f"the request body did not arrive within {timeout:g} s"}),
            content_type="application/json",
        )
        refusal.force_close()
        raise refusal from None
