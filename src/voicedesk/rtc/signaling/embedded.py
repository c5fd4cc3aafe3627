"""``embedded:AGENT``: start the agent server in-process and call it over real HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiortc import RTCIceServer, RTCSessionDescription

from voicedesk.rtc.signaling.base import Signaling
from voicedesk.rtc.signaling.log import redact_url

if TYPE_CHECKING:
    from voicedesk.agent.server import AgentServer  # aiohttp: imported when the call starts
    from voicedesk.rtc.signaling.http_json import HttpJsonSignaling


def redact_target(target: str) -> str:
    """A target with secret option values masked (``embedded:voice?llm_key=sk-…``,
    ``janus+http://…?apisecret=…``), for logs, summaries and stored settings."""
    return redact_url(target)


class EmbeddedSignaling(Signaling):
    def __init__(self, agent: str, *, timeout: float = 15.0) -> None:
        super().__init__()
        from urllib.parse import parse_qsl

        from voicedesk.agent.agents import check_agent_name

        # embedded:parrot?delay=300&vad=energy -> agent options
        agent, _, query = agent.partition("?")
        self.agent_options = dict(parse_qsl(query, keep_blank_values=True))
        self.agent = check_agent_name(agent)
        self.timeout = timeout
        self.server: AgentServer | None = None
        self.http: HttpJsonSignaling | None = None
        self.description = f"embedded {self.agent} agent"

    async def prepare(self) -> list[RTCIceServer]:
        """Start the agent's server before the offer exists, so that the call's set-up time
        (and its signaling phase) is the call's, not this process importing and binding."""
        from voicedesk.agent.server import AgentServer
        from voicedesk.rtc.signaling.http_json import HttpJsonSignaling

        self.server = AgentServer(agent=self.agent, host="127.0.0.1", port=0, agent_options=self.agent_options)
        await self.server.start()
        self.description = f"embedded {self.agent} agent at {self.server.offer_url}"
        self.http = HttpJsonSignaling(self.server.offer_url, timeout=self.timeout)
        self.http.record = self.record  # type: ignore[method-assign] - its exchanges are this call's
        return []

    async def exchange(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        if self.http is None:
            await self.prepare()
        assert self.http is not None
        return await self.http.exchange(offer)

    async def close(self) -> None:
        self.http = None
        if self.server is not None:
            await self.server.stop()
            self.server = None
