"""WHIP (RFC 9725): POST application/sdp, 201 Created + Location, DELETE to hang up.

Target: ``whip+http(s)://host/path`` (or ``--signaling whip``). An
``Authorization: Bearer …`` header given by the user is sent with every request.

ICE servers: a WHIP endpoint announces them in ``Link: <url>; rel="ice-server"``
headers. aiortc cannot change its configuration once the peer connection exists,
so :meth:`prepare` asks with OPTIONS first (RFC 9725 §4.4 allows it) and the call
adds what it learns before creating the connection. Servers that announce them
only in the 201 response are logged but cannot take effect.

Trickle (PATCH with ``application/trickle-ice-sdpfrag``) is not sent: aiortc
gathers every candidate before the offer.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiortc import RTCIceServer, RTCSessionDescription

from voicedesk.errors import CallTimeout, ConfigError, SignalingError
from voicedesk.rtc.signaling.base import Signaling
from voicedesk.rtc.signaling.http import HttpReply, http_request
from voicedesk.rtc.signaling.http_json import error_text
from voicedesk.rtc.signaling.log import redact_url

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
OPTIONS_TIMEOUT = 3.0
REDIRECTS = (307, 308)  # method-preserving; a 303 would turn the POST into a GET
_LINK_SPLIT = re.compile(r",\s*(?=<)")
_LINK_PARAM = re.compile(r';\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,\s]+)')


def check_http_url(url: str, what: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"bad {what} URL {redact_url(url)!r}: expected http(s)://host[:port]/path")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError(f"bad {what} URL {redact_url(url)!r}: the port is not a number in 1-65535") from None


def parse_link_ice_servers(values: list[str]) -> list[RTCIceServer]:
    """ICE servers from ``Link`` header values (RFC 9725 §4.4), in the order given.

    ``<turn:turn.example.net?transport=udp>; rel="ice-server"; username="u";
    credential="p"; credential-type="password"``. Links with another rel are skipped.
    """
    servers = []
    for value in values:
        for link in _LINK_SPLIT.split(value.strip()):
            match = re.match(r"\s*<([^>]*)>(.*)", link)
            if not match:
                continue
            url, rest = match.group(1).strip(), match.group(2)
            params = {k.lower(): v.strip('"').replace('\\"', '"') for k, v in _LINK_PARAM.findall(rest)}
            if "ice-server" not in params.get("rel", "").split():
                continue
            if not url.startswith(("stun:", "stuns:", "turn:", "turns:")):
                logger.warning("ignoring ice-server link that is not a STUN/TURN URL: %s", url)
                continue
            servers.append(RTCIceServer(urls=url, username=params.get("username"), credential=params.get("credential")))
    return servers


def problem_text(reply: HttpReply) -> str:
    """The human text of an error body; for RFC 9457 problem+json, "title: detail"."""
    if reply.content_type == "application/problem+json":
        try:
            data = reply.json("the server")
        except SignalingError:
            data = None
        if isinstance(data, dict):
            title, detail = data.get("title"), data.get("detail")
            joined = ": ".join(str(part) for part in (title, detail) if part)
            if joined:
                return joined
    return error_text(reply.body, reply.content_type) or "(empty body)"


class WhipSignaling(Signaling):
    protocol = "whip"

    def __init__(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        timeout: float = 15.0,
        max_redirects: int = MAX_REDIRECTS,
        learn_ice_servers: bool = True,
    ) -> None:
        super().__init__()
        check_http_url(url, "WHIP endpoint")
        self.url = url
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.max_redirects = max_redirects
        self.learn_ice_servers = learn_ice_servers
        self.resource_url: str | None = None
        self.etag: str | None = None
        self.ice_servers: list[RTCIceServer] = []
        self.description = f"WHIP to {redact_url(url)}"
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def _request(self, method: str, url: str, wait: float | None = None, **kwargs: object) -> HttpReply:
        return await http_request(
            self._http(),
            method,
            url,
            protocol=self.protocol,
            record=self.record,
            headers=self.headers,
            request_timeout=wait or self.timeout,
            **kwargs,  # type: ignore[arg-type]
        )

    async def _follow(self, method: str, wait: float | None = None, **kwargs: object) -> HttpReply:
        """Send to the endpoint, following redirects (RFC 9725 §4.6: 307) up to a limit."""
        url = self.url
        seen = [url]
        for _ in range(self.max_redirects + 1):
            reply = await self._request(method, url, wait, **kwargs)
            if reply.status not in REDIRECTS:
                return reply
            location = reply.headers.get("Location")
            if not location:
                raise SignalingError(
                    f"{redact_url(url)} answered HTTP {reply.status} {reply.reason} without a Location to go to"
                )
            url = urljoin(url, location)
            if url in seen:
                chain = " -> ".join(redact_url(u) for u in [*seen[seen.index(url) :], url])
                raise SignalingError(f"WHIP endpoint redirects in a loop: {chain}")
            seen.append(url)
        first = " -> ".join(redact_url(u) for u in seen[:3])
        raise SignalingError(f"WHIP endpoint redirected more than {self.max_redirects} times ({first} -> …)")

    async def prepare(self) -> list[RTCIceServer]:
        if not self.learn_ice_servers:
            return []
        try:
            # short: an endpoint that ignores OPTIONS must not eat the time the POST needs
            reply = await self._follow("OPTIONS", min(self.timeout / 3, OPTIONS_TIMEOUT))
        except (SignalingError, CallTimeout) as exc:
            # many endpoints do not implement OPTIONS; the POST will say what is wrong
            logger.info("WHIP OPTIONS failed (%s); continuing without ICE servers from the endpoint", exc)
            return []
        if reply.status >= 400:
            logger.info("WHIP OPTIONS answered %s; no ICE servers learned", reply.status)
            return []
        self.ice_servers = parse_link_ice_servers(reply.headers.getall("Link", []))
        if self.ice_servers:
            logger.info("WHIP endpoint announced %d ICE server(s)", len(self.ice_servers))
        return self.ice_servers

    async def exchange(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        reply = await self._follow("POST", body=offer.sdp, content_type="application/sdp")
        if reply.status >= 400:
            hint = ""
            if reply.status == 401:
                hint = " (give a token with -H 'Authorization: Bearer …')"
            endpoint = redact_url(reply.url)
            raise SignalingError(
                f"WHIP endpoint {endpoint} answered HTTP {reply.status} {reply.reason}: {problem_text(reply)}{hint}"
            )
        if reply.status != 201:
            endpoint = redact_url(reply.url)
            raise SignalingError(
                f"WHIP endpoint {endpoint} answered HTTP {reply.status} {reply.reason}, expected 201 Created"
            )
        location = reply.headers.get("Location")
        if not location:
            raise SignalingError(
                f"WHIP endpoint {redact_url(reply.url)} answered 201 Created without a Location header: "
                "the session could not be ended later, so the call was not placed"
            )
        # relative to the URL that answered (after redirects), RFC 3986 §5
        self.resource_url = urljoin(reply.url, location)
        self.etag = reply.headers.get("ETag")
        late = parse_link_ice_servers(reply.headers.getall("Link", []))
        if late and not self.ice_servers:
            logger.warning(
                "WHIP endpoint announced %d ICE server(s) only in its answer; aiortc cannot use them after "
                "the connection was created (give them with --ice)",
                len(late),
            )
        if reply.content_type and reply.content_type != "application/sdp":
            raise SignalingError(f"WHIP endpoint answered Content-Type {reply.content_type}, expected application/sdp")
        if not reply.text.lstrip().startswith("v=0"):
            raise SignalingError("WHIP endpoint answered a body that is not SDP (it does not start with v=0)")
        return RTCSessionDescription(sdp=reply.text, type="answer")

    async def close(self) -> None:
        try:
            if self.resource_url is not None:
                url, self.resource_url = self.resource_url, None
                try:
                    reply = await self._request("DELETE", url)
                    if reply.status >= 400 and reply.status != 404:
                        logger.warning("WHIP DELETE %s answered %s: %s", url, reply.status, problem_text(reply))
                except SignalingError as exc:
                    logger.warning("WHIP session not ended: %s", exc)
        finally:
            if self._session is not None:
                await self._session.close()
                self._session = None
