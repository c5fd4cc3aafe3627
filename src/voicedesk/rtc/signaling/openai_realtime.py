"""The OpenAI Realtime WebRTC shape: ``openai+https://api.openai.com/v1/realtime/calls?model=…``.

POST the offer as ``application/sdp`` with ``Authorization: Bearer KEY`` (from
``-H`` or, when none is given, the ``OPENAI_API_KEY`` environment variable);
the answer SDP is the response body and ``Location`` names the call. Hang-up
POSTs to ``<Location>/hangup``. Errors come as ``{"error": {"message", …}}``.
"""

from __future__ import annotations

import logging
import os
from urllib.parse import urljoin

import aiohttp
from aiortc import RTCSessionDescription

from voicedesk.errors import ConfigError, SignalingError
from voicedesk.rtc.signaling.base import Signaling
from voicedesk.rtc.signaling.http import HttpReply, http_request
from voicedesk.rtc.signaling.http_json import error_text
from voicedesk.rtc.signaling.log import redact_url
from voicedesk.rtc.signaling.whip import check_http_url

logger = logging.getLogger(__name__)

KEY_ENV = "OPENAI_API_KEY"


class OpenAIRealtimeSignaling(Signaling):
    protocol = "openai"

    def __init__(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        timeout: float = 15.0,
        environ: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        check_http_url(url, "OpenAI Realtime calls")
        self.url = url
        self.headers = dict(headers or {})
        self.timeout = timeout
        if not any(k.lower() == "authorization" for k in self.headers):
            key = (environ if environ is not None else os.environ).get(KEY_ENV, "").strip()
            if not key:
                raise ConfigError(
                    f"the OpenAI Realtime API needs a key: -H 'Authorization: Bearer sk-…' or set {KEY_ENV}"
                )
            self.headers["Authorization"] = f"Bearer {key}"
        self.call_url: str | None = None
        self.description = f"OpenAI Realtime call at {redact_url(url)}"

    @property
    def agent_events_protocol(self) -> str | None:
        return "openai"  # server events on the oai-events channel

    async def _post(self, session: aiohttp.ClientSession, url: str, body: str | None, kind: str | None) -> HttpReply:
        return await http_request(
            session,
            "POST",
            url,
            protocol=self.protocol,
            record=self.record,
            headers=self.headers,
            body=body,
            content_type=kind,
            request_timeout=self.timeout,
        )

    async def exchange(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        async with aiohttp.ClientSession() as session:
            reply = await self._post(session, self.url, offer.sdp, "application/sdp")
        if reply.status >= 400:
            hint = " (check the API key)" if reply.status == 401 else ""
            raise SignalingError(
                f"{redact_url(self.url)} answered HTTP {reply.status} {reply.reason}: "
                f"{error_text(reply.body, reply.content_type) or '(empty body)'}{hint}"
            )
        if not reply.text.lstrip().startswith("v=0"):
            raise SignalingError(
                f"{redact_url(self.url)} answered HTTP {reply.status} with a body that is not SDP "
                f"({reply.content_type or 'no content type'})"
            )
        location = reply.headers.get("Location")
        if location:
            self.call_url = urljoin(reply.url, location)
        else:
            logger.info("no Location in the answer: the call cannot be hung up explicitly")
        return RTCSessionDescription(sdp=reply.text, type="answer")

    async def close(self) -> None:
        if self.call_url is None:
            return
        url, self.call_url = self.call_url.rstrip("/") + "/hangup", None
        try:
            async with aiohttp.ClientSession() as session:
                reply = await self._post(session, url, None, None)
            if reply.status >= 400 and reply.status != 404:
                logger.warning(
                    "hang-up at %s answered %s: %s", url, reply.status, error_text(reply.body, reply.content_type)
                )
        except SignalingError as exc:
            logger.warning("OpenAI call not hung up: %s", exc)
