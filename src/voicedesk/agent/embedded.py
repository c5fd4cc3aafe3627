"""``embedded:AGENT``: run the agent in this process and hand it the offer directly.

No HTTP: the call's agent is private to the call (the Agent tab and ``voicedesk serve``
run the agent server that other clients reach over HTTP), so the offer goes straight
to the same ``create_session`` the server's endpoints use. A call to the embedded
agent therefore imports no aiohttp and opens no socket for signaling (launch to a
connected call, issue 11). The exchange is still recorded, as method ``in-process``.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from aiortc import RTCIceServer, RTCSessionDescription

from voicedesk.agent.registry import agent_sends_events, check_agent_name
from voicedesk.errors import SignalingError
from voicedesk.rtc.signaling import Dialect, register_dialect
from voicedesk.rtc.signaling.base import Signaling
from voicedesk.rtc.signaling.log import SignalingExchanged, mask_body, redact_url

if TYPE_CHECKING:
    from voicedesk.agent.sessions import AgentSessions
    from voicedesk.rtc.signaling.http_json import HttpJsonSignaling


def parse_agent_spec(spec: str) -> tuple[str, dict[str, str]]:
    """``parrot?delay=300&vad=energy`` (what follows ``embedded:``) -> the agent's checked
    name and its options; an unknown agent is a ``ConfigError`` naming the known ones."""
    from urllib.parse import parse_qsl

    agent, _, query = spec.partition("?")
    return check_agent_name(agent or "echo"), dict(parse_qsl(query, keep_blank_values=True))


class EmbeddedSignaling(Signaling):
    protocol = "embedded"

    def __init__(self, agent: str, *, timeout: float = 15.0) -> None:
        super().__init__()
        self.agent, self.agent_options = parse_agent_spec(agent)
        self.sends_agent_events = agent_sends_events(self.agent)
        self.timeout = timeout
        self.sessions: AgentSessions | None = None
        self.description = f"embedded {self.agent} agent (in-process)"

    async def prepare(self) -> list[RTCIceServer]:
        """Start the agent before the offer exists, so that the call's set-up time (and its
        signaling phase) is the call's, not this process loading the agent."""
        from voicedesk.agent.sessions import AgentSessions

        sessions = AgentSessions(agent=self.agent, agent_options=self.agent_options, max_sessions=1)
        await sessions.start()
        self.sessions = sessions
        return []

    async def exchange(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        from voicedesk.agent.sessions import OfferError

        if self.sessions is None:
            await self.prepare()
        assert self.sessions is not None
        sent = json.dumps({"sdp": offer.sdp, "type": offer.type})
        started = time.monotonic()
        try:
            _, answer_sdp = await self.sessions.create_session(offer.sdp)
        except OfferError as exc:
            self._record(sent, "", started, error=str(exc))
            raise SignalingError(f"the embedded {self.agent} agent refused the offer: {exc}") from None
        self._record(sent, json.dumps({"sdp": answer_sdp, "type": "answer"}), started)
        return RTCSessionDescription(sdp=answer_sdp, type="answer")

    def _record(self, sent: str, received: str, started: float, error: str | None = None) -> None:
        self.record(
            SignalingExchanged(
                protocol=self.protocol,
                method="in-process",
                url=self.redacted_target(),
                reason="" if error else "answered",
                request_bytes=len(sent),
                response_bytes=len(received),
                elapsed_ms=(time.monotonic() - started) * 1000.0,
                request_body=mask_body(sent, "application/json"),
                response_body=mask_body(received, "application/json") if received else "",
                error=error,
                at=started,
            )
        )

    def redacted_target(self) -> str:
        """``embedded:parrot?delay=300&llm_key=***``: the agent and its options, secrets masked."""
        from urllib.parse import urlencode

        query = f"?{urlencode(self.agent_options)}" if self.agent_options else ""
        return redact_url(f"embedded:{self.agent}{query}")

    async def close(self) -> None:
        if self.sessions is not None:
            sessions, self.sessions = self.sessions, None
            await sessions.stop()


class EmbeddedHttpSignaling(EmbeddedSignaling):
    """``embedded+http:AGENT``: the same agent behind its HTTP server, started in this
    process on a free port, and the offer POSTed to it: the path other clients take
    (``voicedesk serve``), for when that is what is to be tried. Costs aiohttp's import
    and an HTTP round trip in the set-up."""

    protocol = "json"

    def __init__(self, agent: str, *, timeout: float = 15.0) -> None:
        super().__init__(agent, timeout=timeout)
        self.http: HttpJsonSignaling | None = None
        self.description = f"embedded {self.agent} agent over HTTP"

    async def prepare(self) -> list[RTCIceServer]:
        from voicedesk.agent.server import AgentServer
        from voicedesk.rtc.signaling.http_json import HttpJsonSignaling

        server = AgentServer(agent=self.agent, host="127.0.0.1", port=0, agent_options=self.agent_options)
        await server.start()
        self.sessions = server  # stopped with the call by EmbeddedSignaling.close
        self.description = f"embedded {self.agent} agent at {server.offer_url}"
        self.http = HttpJsonSignaling(server.offer_url, timeout=self.timeout)
        self.http.record = self.record  # type: ignore[method-assign]  # its exchanges are this call's
        return []

    async def exchange(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        if self.http is None:
            await self.prepare()
        assert self.http is not None
        return await self.http.exchange(offer)

    async def close(self) -> None:
        self.http = None
        await super().close()


register_dialect(
    Dialect(
        "embedded",
        "embedded agent (in-process)",
        "the in-process agent: the offer is handed to it directly (no HTTP)",
        "embedded:echo / embedded:tone",
        EmbeddedSignaling,
        "embedded:AGENT (in-process; embedded+http:AGENT through its own HTTP server)",
        selectable=False,
    )
)
register_dialect(
    Dialect(
        "embedded+http",
        "embedded agent over HTTP",
        "the in-process agent behind its own HTTP server (JSON offer/answer, as clients reach it)",
        "embedded+http:echo through its HTTP server",
        EmbeddedHttpSignaling,
        selectable=False,
    )
)
