"""Agents the embedded server can run for each call.

An agent is attached to a fresh peer connection before the offer is applied;
it adds what it sends and consumes what it receives. ``close`` runs when the
session ends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiortc import RTCPeerConnection
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from voicedesk.errors import ConfigError
from voicedesk.media.sources import ToneTrack
from voicedesk.rtc import aiortc_patches

logger = logging.getLogger(__name__)


class Agent:
    name = "agent"

    def attach(self, pc: RTCPeerConnection) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        pass


class EchoAgent(Agent):
    """Sends back what it hears.

    The caller's encoded packets are forwarded as they are (bit-exact, no decoder
    thread, no re-encoding: ``aiortc_patches.forward_encoded``), which is what lets
    one process carry several times more echo calls. With ``forward=False``, or with
    the aiortc patches off, aiortc decodes and re-encodes as stock aiortc does."""

    name = "echo"

    def __init__(self, forward: bool = True) -> None:
        self.forward = forward
        self._relay = MediaRelay()

    def attach(self, pc: RTCPeerConnection) -> None:
        # aiortc fires "track" inside setRemoteDescription, before createAnswer,
        # so the echo sender is in place when the answer is made.
        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind != "audio":
                return
            transceiver = next((t for t in pc.getTransceivers() if t.receiver.track is track), None)
            if self.forward and transceiver is not None:
                # the sender sends with the answer's first codec; frames of another codec get decoded
                def send_codec() -> object:  # aiortc keeps the negotiated list private
                    return transceiver._codecs[0] if transceiver._codecs else None

                if aiortc_patches.forward_encoded(transceiver.receiver, send_codec):
                    pc.addTrack(track)
                    return
            pc.addTrack(self._relay.subscribe(track))


class ToneAgent(Agent):
    """Sends a steady tone (440 Hz by default) and ignores what it hears."""

    name = "tone"

    def __init__(self, frequency: float = 440.0) -> None:
        self.frequency = frequency
        self._track: ToneTrack | None = None

    def attach(self, pc: RTCPeerConnection) -> None:
        self._track = ToneTrack(self.frequency)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "audio" and self._track is not None:
                pc.addTrack(self._track)

    async def close(self) -> None:
        if self._track is not None:
            self._track.stop()


def _pipeline_agent(kind: str) -> Callable[..., Agent]:
    """A registry entry for an agent of voice_agents.py, imported only when used."""

    def factory(options: dict[str, str] | None = None) -> Agent:
        from voicedesk.agent.voice_agents import PIPELINE_AGENTS

        return PIPELINE_AGENTS[kind](options)

    factory.__doc__ = f"the {kind} agent (frame pipeline)"
    return factory


AGENTS: dict[str, Callable[..., Agent]] = {
    "echo": EchoAgent,
    "tone": ToneAgent,
    "parrot": _pipeline_agent("parrot"),
    "voice": _pipeline_agent("voice"),
    "script": _pipeline_agent("script"),
}


def check_agent_name(name: str) -> str:
    name = name.strip().lower()
    if name not in AGENTS:
        raise ConfigError(f"unknown agent {name!r}: choose one of {', '.join(sorted(AGENTS))}")
    return name


def prepare_agent(name: str, options: dict[str, str] | None = None) -> None:
    """Check that an agent can run with these options (engines installed, options valid).

    Raises a VoiceDeskError naming what to install or fix; other agents are unaffected.
    """
    name = check_agent_name(name)
    if name in ("echo", "tone"):
        if options:
            raise ConfigError(f"the {name} agent takes no options")
        return
    from voicedesk.agent.voice_agents import PIPELINE_AGENTS

    PIPELINE_AGENTS[name].preflight(options or {})


def create_agent(name: str, options: dict[str, str] | None = None) -> Agent:
    factory = AGENTS[check_agent_name(name)]
    return factory(options) if options else factory()
