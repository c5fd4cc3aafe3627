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
