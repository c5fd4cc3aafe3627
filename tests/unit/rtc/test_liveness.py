"""rtc/liveness.py: packets counted as they arrive, silences timed, the media reported lost."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from voicedesk.errors import ConfigError
from voicedesk.rtc import aiortc_patches
from voicedesk.rtc.call import Call
from voicedesk.rtc.liveness import MEDIA_TIMEOUT, MediaGap, RtpArrivals, media_lost_reason
from voicedesk.rtc.signaling.base import Signaling
from voicedesk.rtc.spec import CallSpec


class Clock:
    def __init__(self) -> None:
        self.ms = 0.0

    def __call__(self) -> float:
        return self.ms


def test_a_silence_of_a_second_or_more_between_packets_is_a_gap_with_its_length() -> None:
    clock, seen = Clock(), []
    arrivals = RtpArrivals(clock, on_gap=seen.append)
    for ms in (0, 20, 40, 900, 920, 3420, 3440):  # 860 ms is loss and jitter; 2500 ms is a freeze
        clock.ms = ms
        arrivals.packet()
    assert arrivals.packets == 7 and arrivals.last_ms == 3440
    assert arrivals.gaps == seen == [MediaGap(920, 2500)]
    assert seen[0].to_json() == {"at_ms": 920.0, "ms": 2500.0}


async def test_silence_returns_only_once_no_packet_came_for_the_timeout() -> None:
    arrivals = RtpArrivals()
    start = time.monotonic()

    async def send_for(seconds: float) -> None:
        while time.monotonic() - start < seconds:
            arrivals.packet()
            await asyncio.sleep(0.02)

    sender = asyncio.create_task(send_for(0.4))
    last_ms = await asyncio.wait_for(arrivals.silence(0.3, time.monotonic() * 1000), 5)
    took = time.monotonic() - start
    await sender
    assert 0.4 + 0.3 <= took < 2.0  # packets held it off; then the timeout, and a short look for late ones
    assert last_ms == arrivals.last_ms


async def test_next_packet_wakes_a_waiter() -> None:
    arrivals = RtpArrivals()
    waiter = asyncio.create_task(arrivals.next_packet())
    await asyncio.sleep(0)
    assert not waiter.done()
    arrivals.packet()
    await asyncio.wait_for(waiter, 1)


async def test_the_receiver_hook_counts_each_packet_and_hands_it_on() -> None:
    handled = []

    class Receiver:
        async def _handle_rtp_packet(self, packet: object, arrival_time_ms: int) -> None:
            handled.append((packet, arrival_time_ms))

    receiver, arrivals = Receiver(), RtpArrivals()
    assert arrivals.watch(receiver) and arrivals.watching
    await receiver._handle_rtp_packet("p1", arrival_time_ms=5)
    await receiver._handle_rtp_packet("p2", arrival_time_ms=6)
    assert arrivals.packets == 2 and handled == [("p1", 5), ("p2", 6)]


def test_a_receiver_without_the_method_is_not_watched() -> None:
    # no hook, no watching: an absent hook must not read as a silent peer
    assert not aiortc_patches.observe_received_rtp(object(), lambda: None)
    arrivals = RtpArrivals()
    assert not arrivals.watch(object()) and not arrivals.watching


def test_the_reason_says_since_when() -> None:
    assert media_lost_reason(5049.0, 120.0) == "no audio packets from the peer since t = 5.0 s"
    assert media_lost_reason(120.0, 120.0) == "no audio packets from the peer since the call connected at t = 0.1 s"


def test_the_spec_carries_the_media_timeout_and_refuses_nonsense() -> None:
    assert CallSpec("embedded:echo").media_timeout == MEDIA_TIMEOUT == 5.0
    call = Call.from_spec(CallSpec("embedded:echo", media_timeout=2.5, ride_out=True))
    assert call.media_timeout == 2.5 and call.ride_out
    assert Call.from_spec(CallSpec("embedded:echo", media_timeout=0)).media_timeout is None  # 0 = off
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ConfigError, match="media timeout must be a number of seconds ≥ 0"):
            CallSpec("embedded:echo", media_timeout=bad)


class Channel(Signaling):
    async def exchange(self, offer):  # type: ignore[no-untyped-def]
        raise NotImplementedError


def test_a_peer_hangs_up_once_and_every_listener_hears_it() -> None:
    signaling, heard = Channel(), []
    signaling.add_hangup_listener(heard.append)
    signaling.add_hangup_listener(lambda why: 1 / 0)  # a broken listener does not stop the others
    signaling.peer_hung_up("the socket closed")
    signaling.peer_hung_up("again")
    assert heard == ["the socket closed"] and signaling.hung_up == "the socket closed"
