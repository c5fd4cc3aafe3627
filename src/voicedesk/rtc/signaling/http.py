"""Every HTTP request a signaling makes: sent without following redirects (WHIP must
see a 307), transport failures turned into one-line user messages, each exchange
recorded as a :class:`SignalingExchanged` with secrets masked.

Kept apart from ``log`` so that importing the call (and the window) does not import
aiohttp, whose client builds its TLS contexts at import time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from multidict import CIMultiDictProxy

from voicedesk.errors import CallTimeout, SignalingError
from voicedesk.rtc.signaling.log import SignalingExchanged, mask_all, mask_body, parse_json, redact_url


@dataclass(frozen=True)
class HttpReply:
    url: str
    status: int
    reason: str
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self, what: str) -> Any:
        """The body as JSON, or a SignalingError that quotes what came instead."""
        try:
            return parse_json(self.body)
        except ValueError:
            snippet = " ".join(self.text.split())[:80]
            raise SignalingError(
                f"{what} answered something that is not JSON ({self.content_type or 'no content type'}): {snippet!r}"
            ) from None


def where(url: str) -> str:
    parts = urlsplit(url)
    default = 443 if parts.scheme in ("https", "wss") else 80
    try:
        port = parts.port or default
    except ValueError:
        port = default
    return f"{parts.hostname}:{port}"


def transport_error(exc: BaseException, url: str, timeout: float) -> Exception:
    """A one-line user message for a request that got no HTTP response."""
    parts = urlsplit(url)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return SignalingError(f"cannot resolve host {parts.hostname!r}: check the target URL")
    if isinstance(exc, aiohttp.ClientConnectorError):
        errno = getattr(exc.os_error, "errno", None)
        why = os.strerror(errno) if errno else str(exc.os_error or exc)
        return SignalingError(f"cannot connect to {where(url)}: {why.lower()} — is the server running?")
    if isinstance(exc, TimeoutError):
        return CallTimeout(
            f"no answer from {redact_url(url)} within {timeout:g} s (raise --timeout if the server is slow)"
        )
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return SignalingError(f"{where(url)} closed the connection without answering")
    return SignalingError(f"HTTP request to {redact_url(url)} failed: {exc}")


Recorder = Callable[[SignalingExchanged], None]


async def http_request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    protocol: str,
    record: Recorder,
    headers: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
    content_type: str | None = None,
    request_timeout: float = 15.0,
) -> HttpReply:
    """Send one request (no automatic redirects), record it, return the reply.

    Raises SignalingError / CallTimeout with a user message when no response came.
    HTTP error statuses are returned, not raised: each protocol words them itself.
    """
    sent_headers = dict(headers or {})
    if content_type:
        sent_headers["Content-Type"] = content_type
    data = body.encode() if isinstance(body, str) else body
    started = time.monotonic()
    try:
        async with session.request(
            method,
            url,
            headers=sent_headers,
            data=data,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=request_timeout),
        ) as response:
            reply_body = await response.read()
            reply = HttpReply(url, response.status, response.reason or "", response.headers, reply_body)
    except (aiohttp.ClientError, TimeoutError) as exc:
        error = transport_error(exc, url, request_timeout)
        record(
            SignalingExchanged(
                protocol=protocol,
                method=method,
                url=url,
                request_headers=mask_all(sent_headers),
                request_bytes=len(data or b""),
                elapsed_ms=(time.monotonic() - started) * 1000.0,
                request_body=mask_body(data or b"", content_type or ""),
                error=str(error),
                at=started,
            )
        )
        raise error from None
    record(
        SignalingExchanged(
            protocol=protocol,
            method=method,
            url=url,
            status=reply.status,
            reason=reply.reason,
            request_headers=mask_all(sent_headers),
            response_headers=mask_all(reply.headers),
            request_bytes=len(data or b""),
            response_bytes=len(reply_body),
            elapsed_ms=(time.monotonic() - started) * 1000.0,
            request_body=mask_body(data or b"", content_type or ""),
            response_body=mask_body(reply_body, reply.content_type),
            at=started,
        )
    )
    return reply
