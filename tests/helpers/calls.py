"""Shared set-up for tests that place calls through the Python API."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection

from voicedesk.agent.server import AgentServer


@contextlib.asynccontextmanager
async def running_server(agent: str = "echo", **kwargs: object) -> AsyncIterator[AgentServer]:
    server = AgentServer(agent=agent, host="127.0.0.1", port=0, **kwargs)  # type: ignore[arg-type]
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def get_json(url: str) -> dict:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return await response.json()


def offline_peer() -> RTCPeerConnection:
    """A peer connection that gathers host candidates only: ``RTCPeerConnection()`` with no
    configuration makes aiortc look up its built-in public STUN server (DNS, then a wait
    where there is no network), which a test on this machine neither needs nor should do."""
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


async def real_offer() -> str:
    """An SDP offer from a real aiortc peer (audio only, candidates gathered)."""
    pc = offline_peer()
    pc.addTransceiver("audio")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


async def until(condition: Callable[[], object], what: str, within_s: float = 30.0) -> None:
    """Wait (on the loop) until ``condition()`` holds; fail naming ``what`` after ``within_s``."""
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {within_s:g} s"
        await asyncio.sleep(0.05)
