"""WebSocket JSON signaling: ``ws(s)://…``.

Messages are JSON objects with a ``type``:

- sent: ``{"type": "offer", "sdp": …}``, later ``{"type": "ice-candidate", "candidate": {…}}``
- received: ``{"type": "answer", "sdp": …}``, ``{"type": "ice-candidate", "candidate":
  {"candidate", "sdpMid", "sdpMLineIndex"}}`` (``null`` ends the candidates) and
  ``{"type": "error", "error": …}``.

The socket stays open for the whole call: candidates that trickle in after the
answer are added to the connection, and closing it on hang-up tells the peer the
call is over. Extra headers (``Authorization``) go with the upgrade request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiortc import RTCIceCandidate, RTCSessionDescription

from voicedesk.errors import ConfigError, SignalingError
from voicedesk.rtc.signaling.base import Signaling, candidate_from_json, candidate_to_json
from voicedesk.rtc.signaling.http import transport_error
from voicedesk.rtc.signaling.http_json import parse_answer
from voicedesk.rtc.signaling.log import SignalingExchanged, mask_all, mask_body, parse_json, redact_url

logger = logging.getLogger(__name__)

READER_STOP_TIMEOUT = 2.0
CLOSE_CODES = {
    1000: "normal closure",
    1001: "going away",
    1006: "closed without a close frame",
    1008: "policy violation",
    1011: "server error",
    1013: "try again later",
}


class WebSocketSignaling(Signaling):
    protocol = "ws"

    def __init__(self, url: str, *, headers: dict[str, str] | None = None, timeout: float = 15.0) -> None:
        super().__init__()
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ConfigError(f"bad WebSocket URL {redact_url(url)!r}: expected ws(s)://host[:port]/path")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise ConfigError(f"bad WebSocket URL {redact_url(url)!r}: the port is not a number in 1-65535") from None
        self.url = url
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.description = f"WebSocket to {redact_url(url)}"
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ended = False  # the socket closed or failed (not: a message we could not read)

    # messages -------------------------------------------------------------
    async def _send(self, message: dict[str, Any]) -> None:
        assert self._ws is not None
        text = json.dumps(message)
        self.record(
            SignalingExchanged(self.protocol, "SEND", self.url, request_bytes=len(text), request_body=mask_body(text))
        )
        await self._ws.send_str(text)

    async def _receive(self) -> dict[str, Any]:
        """The next JSON message; SignalingError when the socket closes or sends garbage."""
        assert self._ws is not None
        message = await self._ws.receive()
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
            self._ended = True
            code = self._ws.close_code
            why = CLOSE_CODES.get(code or 1006, "")
            extra = f": {message.extra}" if isinstance(message.extra, str) and message.extra else ""
            raise SignalingError(
                f"the WebSocket at {redact_url(self.url)} closed before an answer came (code {code or 1006}"
                f"{', ' + why if why else ''}{extra})"
            )
        if message.type == aiohttp.WSMsgType.ERROR:
            self._ended = True
            raise SignalingError(f"the WebSocket at {redact_url(self.url)} failed: {self._ws.exception()}")
        raw = message.data if message.type == aiohttp.WSMsgType.TEXT else bytes(message.data).decode("utf-8", "replace")
        self.record(
            SignalingExchanged(self.protocol, "RECV", self.url, response_bytes=len(raw), response_body=mask_body(raw))
        )
        try:
            data = parse_json(raw)
        except ValueError:
            raise SignalingError(
                f"the WebSocket at {redact_url(self.url)} sent a message that is not JSON: {raw[:80]!r}"
            ) from None
        if not isinstance(data, dict):
            raise SignalingError(f"the WebSocket at {redact_url(self.url)} sent JSON that is not an object")
        return data

    async def _on_candidate_message(self, data: dict[str, Any]) -> None:
        raw = data.get("candidate", data)
        try:
            candidate = candidate_from_json(raw) if raw is not None else None
        except ValueError as exc:
            logger.warning("ignoring a bad ice-candidate message: %s", exc)
            return
        await self.deliver_remote_candidate(candidate)

    # protocol -------------------------------------------------------------
    async def exchange(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        self._session = aiohttp.ClientSession()
        started = time.monotonic()
        try:
            self._ws = await self._session.ws_connect(
                self.url, headers=self.headers, timeout=aiohttp.ClientWSTimeout(ws_close=2.0), heartbeat=20.0
            )
        except aiohttp.WSServerHandshakeError as exc:
            reason = _phrase(exc.status)
            self._record_upgrade(started, exc.status, reason)
            hint = " (give a token with -H 'Authorization: Bearer …')" if exc.status == 401 else ""
            if exc.status == 200:
                hint = " (is this a WebSocket endpoint? it answered like a web page)"
            raise SignalingError(
                f"{redact_url(self.url)} refused the WebSocket: HTTP {exc.status} {reason}".rstrip() + hint
            ) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = transport_error(exc, self.url, self.timeout)
            self._record_upgrade(started, None, "", error=str(error))
            raise error from None
        self._record_upgrade(started, 101, "Switching Protocols")

        await self._send({"type": "offer", "sdp": offer.sdp})
        while True:
            data = await self._receive()
            kind = data.get("type")
            if kind == "answer":
                answer = parse_answer(data, redact_url(self.url))
                break
            if kind == "ice-candidate":
                await self._on_candidate_message(data)
            elif kind == "error":
                detail = data.get("error") or data.get("message") or "no reason given"
                raise SignalingError(f"{redact_url(self.url)} refused the offer: {detail}")
            else:
                logger.info("WebSocket message of type %r ignored while waiting for the answer", kind)
        self._reader = asyncio.get_running_loop().create_task(self._read_after_answer(), name="ws signaling reader")
        return answer

    def _record_upgrade(self, started: float, status: int | None, reason: str, error: str | None = None) -> None:
        self.record(
            SignalingExchanged(
                self.protocol,
                "GET",
                self.url,
                status=status,
                reason=reason,
                request_headers=mask_all(self.headers),
                elapsed_ms=(time.monotonic() - started) * 1000.0,
                error=error,
                at=started,
            )
        )

    async def _read_after_answer(self) -> None:
        """Trickled candidates after the answer. The socket carries the call's life: the
        peer closing it (or dying, which closes it too) is the peer hanging up."""
        try:
            while True:
                data = await self._receive()
                if data.get("type") == "ice-candidate":
                    await self._on_candidate_message(data)
                elif data.get("type") == "error":
                    logger.warning("signaling server: %s", data.get("error") or data.get("message"))
        except SignalingError as exc:
            text = str(exc).replace("before an answer came ", "")
            logger.info("WebSocket signaling ended: %s", text)
            if self._ended:  # a garbled message stops the reading, not the call
                self.peer_hung_up(text)

    async def add_local_candidates(self, candidates: list[RTCIceCandidate]) -> None:
        for candidate in candidates:
            await self._send({"type": "ice-candidate", "candidate": candidate_to_json(candidate)})

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError, Exception):
                await asyncio.wait_for(self._reader, READER_STOP_TIMEOUT)
            self._reader = None
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
            self._ws = None
        if self._session is not None:
            await self._session.close()
            self._session = None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
