"""The shared-memory rings read as ``media.ringbuffer.RingBuffer`` does, across a process."""

from __future__ import annotations

import multiprocessing

import numpy as np

from voicedesk.engine.rings import CallRings, ShmRing
from voicedesk.media.ringbuffer import RingBuffer


def _write_tone(name: str) -> None:
    ring = ShmRing(name)
    ring.write(np.arange(1500, dtype=np.float32))
    ring.close()


def test_a_ring_wraps_like_the_ring_buffer_and_counts_what_was_written() -> None:
    shm, local = ShmRing(capacity=100), RingBuffer(100)
    try:
        for block in (np.arange(30), np.arange(30, 90), np.arange(90, 170), np.arange(170, 400)):
            shm.write(block.astype(np.float32))
            local.write(block.astype(np.float32))
            assert shm.written == local.written
            assert np.array_equal(shm.latest(50), local.latest(50))
            assert np.array_equal(shm.latest(500), local.latest(500))
        assert shm.latest(3).tolist() == [397.0, 398.0, 399.0]
    finally:
        shm.close(unlink=True)


def test_another_process_writes_what_this_one_reads_and_closing_twice_is_harmless() -> None:
    rings = CallRings()
    ring = ShmRing(rings.names.sent)  # attach as a second reader, like the window
    ring.close()
    reader = ShmRing(rings.names.received)
    child = multiprocessing.get_context("spawn").Process(target=_write_tone, args=(rings.names.received,))
    child.start()
    child.join(60)
    try:
        assert child.exitcode == 0
        assert reader.written == 1500
        assert reader.latest(2).tolist() == [1498.0, 1499.0]
    finally:
        reader.close()
        rings.close()
        rings.close()
    assert rings.sent.written == 0 and rings.sent.latest(10).size == 0  # closed: reads nothing, no crash
