"""JSON offer/answer over HTTP: POST {"sdp","type"} -> {"sdp","type"[, "pc_id"]}."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiortc import RTCSessionDescription

from voicedesk.errors import ConfigError, SignalingError
from voicedesk.rtc.signaling.base import Signaling
from voicedesk.rtc.signaling.http import http_request
from voicedesk.rtc.signaling.log import parse_json, redact_url

logger = logging.getLogger(__name__)


def error_text(body: bytes, content_type: str) -> str:
    """The human part of an error body: JSON error/detail/message/title, else the text."""
    text = body.decode("utf-8", "replace").strip()
    if "json" in content_type:
        try:
            data = parse_json(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            for key in ("error", "detail", "message", "title"):
                value = data.get(key)
                if isinstance(value, dict):
                    value = value.get("message") or json.dumps(value)
                if value:
                    return str(value)
    text = " ".join(text.split())
    return text[:200] + ("…" if len(text) > 200 else "")


def parse_answer(data: Any, source: str) -> RTCSessionDescription:
    """Check an answer object and build the description; SignalingError says what is wrong."""
    if not isinstance(data, dict):
        raise SignalingError(f"{source} answered JSON that is not an object")
    sdp = data.get("sdp")
    if not isinstance(sdp, str) or not sdp:
        raise SignalingError(f'{source} answered JSON without an "sdp" field')
    if not sdp.lstrip().startswith("v=0"):
        raise SignalingError(f'{source} answered an "sdp" that is not SDP (it does not start with v=0)')
    kind = data.get("type", "answer")
    if kind != "answer":
        raise SignalingError(f'{source} answered type {kind!r}, expected "answer"')
    return RTCSessionDescription(sdp=sdp, type="answer")


class HttpJsonSignaling(Signaling):
    protocol = "json"

    def __init__(self, url: str, *, headers: dict[str, str] | None = None, timeout: float = 15.0) -> None:
        super().__init__()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"bad target URL {redact_url(url)!r}: expected http(s)://host[:port]/path")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            raise ConfigError(f"bad target URL {redact_url(url)!r}: the port is not a number in 1-65535") from None
        self.url = url
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.pc_id: str | None = None
        self.description = f"JSON offer/answer to {redact_url(url)}"

    async def send_json(self, method: str, payload: dict[str, Any], refused: str) -> Any:
        """One recorded JSON request to the target; an HTTP error is ``SignalingError``
        with ``refused`` followed by the status and the body's own error text."""
        async with aiohttp.ClientSession() as session:
            reply = await http_request(
                session,
                method,
                self.url,
                protocol=self.protocol,
                record=self.record,
                headers=self.headers,
                body=json.dumps(payload),
                content_type="application/json",
                request_timeout=self.timeout,
            )
        if 300 <= reply.status < 400:
            # not followed (http_request never does): a redirected POST loses its body, and a
            # redirect's body ("302: Found") would otherwise be reported as an answer that is not JSON
            location = reply.headers.get("Location")
            raise SignalingError(
                f"{refused} HTTP {reply.status} {reply.reason}"
                + (f", a redirect to {location}" if location else ", a redirect")
                + ": JSON signaling does not follow redirects; call the URL it names"
            )
        if reply.status >= 400:
            raise SignalingError(
                f"{refused} HTTP {reply.status} {reply.reason}: "
                f"{error_text(reply.body, reply.content_type) or '(empty body)'}"
            )
        return reply

    async def exchange(self, offer: RTCSessionDescription) -> RTCSessionDescription:

        payload = {"sdp": offer.sdp, "type": offer.type, **self.extra_fields()}
        reply = await self.send_json("POST", payload, refused=f"{redact_url(self.url)} answered")
        data = reply.json(redact_url(self.url))
        answer = parse_answer(data, redact_url(self.url))
        if isinstance(data.get("pc_id"), str):
            self.pc_id = data["pc_id"]
        return answer

    def extra_fields(self) -> dict[str, Any]:
        """Fields a dialect adds to the offer object (none for plain JSON)."""
        return {}
