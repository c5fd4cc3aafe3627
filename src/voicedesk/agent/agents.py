"""The two agents without a pipeline: ``echo`` and ``tone`` (registry.py says what an agent is)."""

from __future__ import annotations

import logging

from aiortc import RTCPeerConnection
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from voicedesk.agent.registry import Agent, register_agent
from voicedesk.media.sources import ToneTrack
from voicedesk.rtc import aiortc_patches

logger = logging.getLogger(__name__)


class EchoAgent(Agent):
    """Sends back what it hears.

    The caller's encoded packets are forwarded as they are (bit-exact, no decoder
    thread, no re-encoding: ``aiortc_patches.forward_encoded``), which is what lets
    one process carry several times more echo calls. With ``forward=False``, or with
    the aiortc patches off, aiortc decodes and re-encodes as stock aiortc does."""

    name = "echo"
    summary = "sends back what it hears"

    def __init__(self, options: dict[str, str] | None = None, *, forward: bool = True) -> None:
        super().__init__(options)
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
    summary = "sends a 440 Hz tone, ignores what it hears"

    def __init__(self, options: dict[str, str] | None = None, *, frequency: float = 440.0) -> None:
        super().__init__(options)
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


register_agent(EchoAgent)
register_agent(ToneAgent)
