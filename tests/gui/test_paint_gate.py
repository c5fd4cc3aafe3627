"""The paint gate runs window work between outgoing packets, never drops it, never waits on a stalled sender."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from voicedesk.gui import paint_gate
from voicedesk.gui.paint_gate import PaintGate

pytestmark = pytest.mark.gui


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_work_waits_for_the_next_packet_when_one_is_near(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(paint_gate.time, "perf_counter", clock)
    observers = []
    gate = PaintGate()
    gate.attach(observers.append)
    packet = observers[0]
    ran = []

    def draw() -> None:
        ran.append(clock.now)

    gate.run(draw)  # no packet seen yet: nothing to protect
    assert ran == [100.0]

    packet(np.zeros(960, dtype=np.float32))
    clock.now += 0.004
    gate.run(draw)  # 4 ms after a packet: plenty of time before the next
    assert len(ran) == 2

    clock.now += 0.012  # 16 ms after: the next packet is 4 ms away
    gate.run(draw)
    gate.run(draw)  # a second tick while waiting runs once
    assert len(ran) == 2 and gate.deferred == 2

    clock.now += 0.004
    packet(np.zeros(960, dtype=np.float32))
    assert len(ran) == 2  # not inside the packet's own step...
    await asyncio.sleep(0)
    assert len(ran) == 3  # ...right after it

    clock.now += 0.050  # the sender stalled: do not wait for it
    gate.run(draw)
    assert len(ran) == 4


async def test_detach_runs_what_waits_and_stops_gating(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(paint_gate.time, "perf_counter", clock)
    observers = []
    gate = PaintGate()
    gate.attach(observers.append)
    observers[0](np.zeros(960, dtype=np.float32))
    clock.now += 0.015
    ran = []
    gate.run(lambda: ran.append(1))
    assert ran == []
    gate.detach()
    assert ran == [1]
    clock.now += 0.001
    gate.run(lambda: ran.append(2))
    assert ran == [1, 2]


def gate_on_both_streams(monkeypatch) -> tuple[Clock, PaintGate, list, list]:
    """A gate on a fake clock watching a sender (``observers[0](frame)``) and the
    received audio (``sinks[0].write(frame)``)."""
    clock = Clock()
    monkeypatch.setattr(paint_gate.time, "perf_counter", clock)
    observers: list = []
    sinks: list = []
    gate = PaintGate()
    gate.attach(observers.append)
    gate.attach_received(sinks.append)
    return clock, gate, observers, sinks


async def test_work_also_keeps_clear_of_arriving_packets(monkeypatch):
    """aiortc timestamps a packet when Python reads it: painting over an arrival would
    show up as network jitter in the window's own "jitter in"."""
    clock, gate, observers, sinks = gate_on_both_streams(monkeypatch)
    sent, arrival = observers[0], sinks[0]
    frame = np.zeros(960, dtype=np.float32)
    ran = []

    def draw() -> None:
        ran.append(round((clock.now - 100.0) * 1000))

    sent(frame)  # t = 0: a packet out
    clock.now += 0.003
    arrival.write(frame)  # t = 3 ms: one in; the next are due at 20 (out) and 23 (in)
    clock.now += 0.013
    gate.run(draw)  # t = 16 ms: 4 ms before the next packet out
    assert ran == [] and gate.quiet_for() == pytest.approx(0.004)
    clock.now += 0.004
    sent(frame)  # t = 20 ms
    await asyncio.sleep(0)
    assert ran == []  # the packet in is 3 ms away: still not the time
    clock.now += 0.003
    arrival.write(frame)  # t = 23 ms: 17 ms of quiet ahead
    await asyncio.sleep(0)
    assert ran == [23]


async def test_work_never_waits_more_than_two_intervals(monkeypatch):
    clock, gate, observers, sinks = gate_on_both_streams(monkeypatch)
    frame = np.zeros(960, dtype=np.float32)
    ran = []
    observers[0](frame)
    sinks[0].write(frame)
    clock.now += 0.015
    gate.run(lambda: ran.append(clock.now))
    # packets in and out 2 ms apart, never 8 ms of quiet: the work still runs within 40 ms
    for _ in range(3):
        clock.now += 0.003
        observers[0](frame)
        await asyncio.sleep(0)
        clock.now += 0.002
        sinks[0].write(frame)
        await asyncio.sleep(0)
        clock.now += 0.015
    assert len(ran) == 1 and ran[0] - 100.0 <= 0.015 + paint_gate.MAX_WAIT_S + 0.005


async def test_a_work_that_took_long_waits_for_a_longer_quiet(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(paint_gate.time, "perf_counter", clock)
    observers: list = []
    gate = PaintGate()
    gate.attach(observers.append)
    frame = np.zeros(960, dtype=np.float32)
    ran = []

    def slow_update() -> None:  # e.g. a stats update that re-lays out an axis
        ran.append("slow")
        clock.now += 0.012

    def frame_paint() -> None:
        ran.append("fast")

    observers[0](frame)  # t = 0
    gate.run(slow_update)  # 20 ms of quiet ahead: runs, and takes 12 ms
    await asyncio.sleep(0)  # its cost is recorded after the repaint
    assert gate.needs(slow_update) == pytest.approx(0.013)
    clock.now = 100.0 + 0.020
    observers[0](frame)  # t = 20 ms
    clock.now += 0.010  # 10 ms of quiet left: enough for a frame, not for the slow update
    gate.run(frame_paint)
    gate.run(slow_update)
    assert ran == ["slow", "fast"]
    clock.now = 100.0 + 0.040
    observers[0](frame)  # t = 40 ms: 20 ms ahead
    await asyncio.sleep(0)
    assert ran == ["slow", "fast", "slow"]


async def test_a_peer_sending_40_ms_packets_is_gated_on_its_own_interval(monkeypatch):
    """a=ptime:40: a packet arrives every 40 ms, so 25 ms after one there are 15 ms of
    quiet ahead (a 20 ms assumption would call that packet overdue and hold the work)."""
    clock, gate, _observers, sinks = gate_on_both_streams(monkeypatch)
    ran = []
    sinks[0].write(np.zeros(1920, dtype=np.float32))  # 40 ms at 48 kHz
    clock.now += 0.025
    assert gate.quiet_for() == pytest.approx(0.015)
    gate.run(lambda: ran.append(1))
    assert ran == [1] and gate.deferred == 0
    clock.now += 0.060  # 85 ms: over two intervals without a packet, the stream stopped
    assert gate.quiet_for() == float("inf")
