"""``embedded:AGENT``: start the agent server in-process and call it over real HTTP."""

from __future__ import annotations

from aiortc import RTCSessionDescription

from voicedesk.rtc.signaling.base import Signaling
from voicedesk.rtc.signaling.log import redact_url


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
        self.server = None
        self.description = f"embedded {self.agent} agent"

    async def exchange(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        from voicedesk.agent.server import AgentServer
        from voicedesk.rtc.signaling.http_json import HttpJsonSignaling

        self.server = AgentServer(agent=self.agent, host="127.0.0.1", port=0, agent_options=self.agent_options)
        await self.server.start()
        self.description = f"embedded {self.agent} agent at {self.server.offer_url}"
        http = HttpJsonSignaling(self.server.offer_url, timeout=self.timeout)
        http.record = self.record  # type: ignore[method-assign] - its exchanges are this call's
        return await http.exchange(offer)

    async def close(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None
