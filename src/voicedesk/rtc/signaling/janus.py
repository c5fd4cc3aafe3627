"""Janus over its REST API: ``janus+http(s)://host:port/janus[?plugin=…&body=…]``.

create a session → attach the plugin (``janus.plugin.echotest`` unless the URL
names another) → ``message`` with the offer as ``jsep`` → long-poll the session
for the event that carries the answer. The long poll keeps running for the whole
call (it is also Janus's keep-alive) and hands trickled candidates to the call;
hang-up destroys the session.

Query parameters: ``plugin`` (a Janus plugin package name), ``body`` (the JSON
``body`` of the message; EchoTest gets ``{"audio": true, "video": false}``),
``apisecret`` / ``token`` (Janus's own authentication, sent in every request
body and masked in logs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import aiohttp
from aiortc import RTCIceCandidate, RTCSessionDescription

from voicedesk.errors import CallTimeout, ConfigError, SignalingError
from voicedesk.rtc.signaling.base import Signaling, candidate_from_json, candidate_to_json
from voicedesk.rtc.signaling.http import HttpReply, http_request
from voicedesk.rtc.signaling.log import redact_url

logger = logging.getLogger(__name__)

DEFAULT_PLUGIN = "janus.plugin.echotest"
LONG_POLL_TIMEOUT = 45.0  # Janus answers a long poll within 30 s (a keepalive when nothing happened)
POLL_STOP_TIMEOUT = 2.0


def parse_janus_url(url: str) -> tuple[str, str, dict[str, Any], dict[str, str]]:
    """``http(s)://host:port/janus?plugin=…`` -> (base URL, plugin, message body, auth fields)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"bad Janus URL {redact_url(url)!r}: expected janus+http(s)://host:port/janus")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError(f"bad Janus URL {redact_url(url)!r}: the port is not a number in 1-65535") from None
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    plugin = query.get("plugin", DEFAULT_PLUGIN)
    if not plugin.startswith("janus.plugin."):
        raise ConfigError(f"bad Janus plugin {plugin!r}: plugin names look like janus.plugin.echotest")
    if "body" in query:
        try:
            body = json.loads(query["body"])
        except ValueError as exc:
            raise ConfigError(f"bad Janus body {query['body']!r}: not JSON ({exc})") from None
        if not isinstance(body, dict):
            raise ConfigError("bad Janus body: it must be a JSON object")
    else:
        body = {"audio": True, "video": False} if plugin == DEFAULT_PLUGIN else {}
    auth = {k: query[k] for k in ("apisecret", "token") if k in query}
    base = urlunsplit(parts._replace(query="", fragment="")).rstrip("/")
    return base, plugin, body, auth


def janus_error_text(data: dict[str, Any]) -> str | None:
    """The reason of a Janus ``error`` reply or of a plugin error event, else None."""
    if data.get("janus") == "error":
        error = data.get("error") or {}
        return f"error {error.get('code', '?')}: {error.get('reason', 'no reason given')}"
    plugin_data = (data.get("plugindata") or {}).get("data") or {}
    if isinstance(plugin_data, dict) and plugin_data.get("error"):
        code = plugin_data.get("error_code")
        return f"{(data.get('plugindata') or {}).get('plugin', 'plugin')} error{f' {code}' if code else ''}: " + str(
            plugin_data["error"]
        )
    return None


class JanusSignaling(Signaling):
    protocol = "janus"

    def __init__(self, url: str, *, headers: dict[str, str] | None = None, timeout: float = 15.0) -> None:
        super().__init__()
        self.base, self.plugin, self.body, self.auth = parse_janus_url(url)
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.session_id: int | None = None
        self.handle_id: int | None = None
        self.description = f"Janus {self.plugin.removeprefix('janus.plugin.')} at {self.base}"
        self._http: aiohttp.ClientSession | None = None
        self._poller: asyncio.Task[None] | None = None
        self._rid = 0

    # requests -------------------------------------------------------------
    async def _request(self, method: str, url: str, payload: dict[str, Any] | None, wait: float) -> dict[str, Any]:
        assert self._http is not None
        reply: HttpReply = await http_request(
            self._http,
            method,
            url,
            protocol=self.protocol,
            record=self.record,
            headers=self.headers,
            body=json.dumps(payload) if payload is not None else None,
            content_type="application/json" if payload is not None else None,
            request_timeout=wait,
        )
        if reply.status >= 400:
            raise SignalingError(
                f"Janus at {redact_url(url)} answered HTTP {reply.status} {reply.reason}: {reply.text[:200]}"
            )
        data = reply.json(f"Janus at {redact_url(url)}")
        if not isinstance(data, (dict, list)):
            raise SignalingError(f"Janus at {redact_url(url)} answered JSON that is not an object")
        return data if isinstance(data, dict) else {"janus": "events", "events": data}

    async def _send(self, url: str, what: str, payload: dict[str, Any]) -> dict[str, Any]:
        payload = {**payload, "transaction": secrets.token_hex(6), **self.auth}
        data = await self._request("POST", url, payload, self.timeout)
        error = janus_error_text(data)
        if error:
            raise SignalingError(f"Janus refused to {what}: {error}")
        return data

    async def _poll_once(self) -> list[dict[str, Any]]:
        self._rid += 1
        url = f"{self.base}/{self.session_id}?maxev=5&rid={int(time.time() * 1000)}{self._rid}"
        for key, value in self.auth.items():
            url += f"&{key}={value}"
        data = await self._request("GET", url, None, LONG_POLL_TIMEOUT)
        return data["events"] if data.get("janus") == "events" else [data]

    # protocol -------------------------------------------------------------
    async def exchange(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        self._http = aiohttp.ClientSession()
        created = await self._send(self.base, "create a session", {"janus": "create"})
        self.session_id = (created.get("data") or {}).get("id")
        if self.session_id is None:
            raise SignalingError(f"Janus at {self.base} created a session without an id: {created}")
        attached = await self._send(
            f"{self.base}/{self.session_id}", f"attach {self.plugin}", {"janus": "attach", "plugin": self.plugin}
        )
        self.handle_id = (attached.get("data") or {}).get("id")
        if self.handle_id is None:
            raise SignalingError(f"Janus did not attach {self.plugin}: {attached}")
        sent = await self._send(
            f"{self.base}/{self.session_id}/{self.handle_id}",
            f"take the offer ({self.plugin})",
            {"janus": "message", "body": self.body, "jsep": {"type": offer.type, "sdp": offer.sdp}},
        )
        jsep = sent.get("jsep")  # a plugin may answer at once; most ack and answer in an event
        while not jsep:
            for event in await self._poll_once():
                jsep = await self._handle_event(event) or jsep
        if jsep.get("type") != "answer" or not str(jsep.get("sdp", "")).lstrip().startswith("v=0"):
            raise SignalingError(f"Janus sent a jsep that is not an SDP answer (type {jsep.get('type')!r})")
        self._poller = asyncio.get_running_loop().create_task(self._keep_polling(), name="janus long poll")
        return RTCSessionDescription(sdp=jsep["sdp"], type="answer")

    async def _handle_event(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """Act on one event; return its jsep if it carries one. Errors raise SignalingError."""
        kind = event.get("janus")
        if event.get("sender") not in (None, self.handle_id):
            return None
        error = janus_error_text(event)
        if error:
            raise SignalingError(f"Janus {error}")
        if kind == "trickle":
            raw = event.get("candidate") or {}
            try:
                await self.deliver_remote_candidate(candidate_from_json(raw))
            except ValueError as exc:
                logger.warning("ignoring a bad candidate from Janus: %s", exc)
        elif kind == "hangup":
            logger.info("Janus hung up: %s", event.get("reason", "no reason given"))
            self.peer_hung_up(f"Janus hung up ({event.get('reason', 'no reason given')})")
        elif kind in ("webrtcup", "media", "slowlink"):
            logger.info("Janus %s: %s", kind, {k: v for k, v in event.items() if k not in ("session_id", "sender")})
        return event.get("jsep") if kind == "event" else None

    async def _keep_polling(self) -> None:
        """Keep the session alive (a long poll is Janus's keep-alive) and take late events."""
        try:
            while True:
                for event in await self._poll_once():
                    await self._handle_event(event)
        except (SignalingError, CallTimeout) as exc:
            # the long poll is the session's keep-alive: once it fails, Janus drops the call
            logger.info("Janus long poll ended: %s", exc)
            self.peer_hung_up(f"the Janus long poll ended: {exc}")

    async def add_local_candidates(self, candidates: list[RTCIceCandidate]) -> None:
        url = f"{self.base}/{self.session_id}/{self.handle_id}"
        for candidate in candidates:
            await self._send(url, "take a candidate", {"janus": "trickle", "candidate": candidate_to_json(candidate)})

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError, Exception):
                await asyncio.wait_for(self._poller, POLL_STOP_TIMEOUT)
            self._poller = None
        if self._http is None:
            return
        try:
            if self.session_id is not None:
                session_id, self.session_id = self.session_id, None
                try:
                    await self._send(f"{self.base}/{session_id}", "destroy the session", {"janus": "destroy"})
                except (SignalingError, CallTimeout) as exc:
                    logger.warning("Janus session not destroyed: %s", exc)
        finally:
            await self._http.close()
            self._http = None
