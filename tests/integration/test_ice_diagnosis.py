"""When ICE sticks in "checking" or fails, the call says why (real aiortc peers, answers bent on purpose)."""

from __future__ import annotations

import re
import socket

import pytest
from aiortc import RTCSessionDescription

from voicedesk.agent.embedded import EmbeddedSignaling
from voicedesk.errors import IceError
from voicedesk.media.sources import ToneTrack
from voicedesk.rtc.call import Call
from voicedesk.rtc.ice_monitor import STATS_NOTE

CANDIDATE = re.compile(r"^(a=candidate:\S+ \d+ \S+ \d+ )(\S+) (\d+)( typ .*)$", re.MULTILINE)


class BentAnswerSignaling(EmbeddedSignaling):
    """The real embedded echo agent, whose answer's candidates are rewritten by ``bend(address, port)``."""

    def __init__(self, bend, silence_agent: bool = False) -> None:
        super().__init__("echo")
        self.bend = bend
        self.silence_agent = silence_agent

    async def exchange(self, offer: RTCSessionDescription) -> RTCSessionDescription:
        answer = await super().exchange(offer)
        if self.silence_agent:  # the agent goes away: nobody will check towards us either
            await self.close()
        sdp = CANDIDATE.sub(lambda m: m[1] + " ".join(map(str, self.bend(m[2], int(m[3])))) + m[4], answer.sdp)
        return RTCSessionDescription(sdp=sdp, type=answer.type)


async def test_only_unresolvable_mdns_candidates_are_named():
    signaling = BentAnswerSignaling(lambda host, port: ("4bd2e1a0-9f0c-4c6e-a5d5-2e0c1f3f6b11.local", port))
    call = Call(signaling, source=ToneTrack(440), timeout=10)
    with pytest.raises(IceError) as info:
        await call.start()
    message = str(info.value)
    assert "the peer offered only mDNS candidates (4bd2e1a0-9f0c-4c6e-a5d5-2e0c1f3f6b11.local)" in message
    assert "none resolved here" in message


async def test_no_pair_ever_answered_is_named_with_a_pair():
    # a socket that reads and never answers: a firewall that drops, or an unpublished container port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("10.99.0.1", 0))
        port = silent.getsockname()[1]
        signaling = BentAnswerSignaling(lambda host, _: (host, port), silence_agent=True)
        call = Call(signaling, source=ToneTrack(440), timeout=4)
        with pytest.raises(IceError) as info:
            await call.start()
    message = str(info.value)
    assert "no connection within 4 s" in message
    assert "no candidate pair got an answer" in message
    assert f"10.99.0.1:{port}" in message
    snap = call.ice_monitor.snapshot()
    assert snap.selected is None and snap.path is None and not snap.turn_used
    assert snap.pairs and all(p.state in ("in-progress", "failed", "waiting", "frozen") for p in snap.pairs)
    assert any(p.history and p.history[0][1] == "in-progress" for p in snap.pairs)
    assert snap.note == STATS_NOTE
    states = [(e.what, e.state) for e in snap.timeline]
    assert ("iceConnectionState", "checking") in states
