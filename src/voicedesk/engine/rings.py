"""Shared-memory rings: the engine process writes each direction's audio, the window reads it.

The same face as ``media.ringbuffer.RingBuffer`` (``capacity``, ``written``, ``write``,
``latest``), so a waveform reads a ring in shared memory as it reads one in its own process.
One writer (the engine's loop) and any number of readers: the writer stores the samples
first and then the running count (an int64 in the first slot), so a reader never sees a
count ahead of its data. A reader that copies while the writer wraps may get one block
half old: harmless for drawing and for measuring a tone.
"""

from __future__ import annotations

from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np

from voicedesk.media.pcm import SAMPLE_RATE
from voicedesk.media.ringbuffer import write_wrapped

HEADER = 8  # bytes: the running count of samples written (int64)
RING_SECONDS = 5.0  # what the window's waveforms show at most


class ShmRing:
    """A ring of float32 samples in shared memory; ``name=None`` creates one, a name attaches to it."""

    def __init__(self, name: str | None = None, capacity: int = int(RING_SECONDS * SAMPLE_RATE)) -> None:
        create = name is None
        self.shm = shared_memory.SharedMemory(name=name, create=create, size=HEADER + capacity * 4)
        self._capacity = capacity
        self._count = np.ndarray((1,), dtype=np.int64, buffer=self.shm.buf, offset=0)
        self._data = np.ndarray((capacity,), dtype=np.float32, buffer=self.shm.buf, offset=HEADER)
        self._closed = False
        if create:
            self._count[0] = 0

    @property
    def name(self) -> str:
        return self.shm.name

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def written(self) -> int:
        """Total samples ever written (monotonic), so readers can tell what is new."""
        return 0 if self._closed else int(self._count[0])

    def write(self, samples: np.ndarray) -> None:
        if self._closed:
            return
        samples = np.asarray(samples, dtype=np.float32).ravel()
        total = samples.size
        if total >= self._capacity:
            samples = samples[-self._capacity :]
        n = samples.size
        written = int(self._count[0])
        start = (written + total - n) % self._capacity  # a block longer than the ring keeps its tail
        write_wrapped(self._data, start, samples)
        self._count[0] = written + total  # published after the data

    def latest(self, count: int) -> np.ndarray:
        """A copy of the most recent ``count`` samples (fewer if fewer were written)."""
        if self._closed:
            return np.zeros(0, dtype=np.float32)
        written = int(self._count[0])
        count = max(0, min(count, self._capacity, written))
        end = written % self._capacity
        start = end - count
        if start >= 0:
            return self._data[start:end].copy()
        return np.concatenate((self._data[start:], self._data[:end]))

    def close(self, unlink: bool = False) -> None:
        """Let go of the memory (``unlink``: the creator removes it too); twice is harmless."""
        if not self._closed:
            self._closed = True
            del self._count, self._data
            self.shm.close()
            if unlink:
                try:
                    self.shm.unlink()
                except FileNotFoundError:
                    pass


@dataclass
class RingView:
    """What a waveform reads (``.ring``), like ``media.sinks.AnalyzerSink``; backed by shared memory."""

    ring: ShmRing


@dataclass(frozen=True)
class RingNames:
    """The two rings of one call, by name (what crosses to the engine process)."""

    sent: str
    received: str


class CallRings:
    """The window's side: creates both rings of one call and removes them when done."""

    def __init__(self) -> None:
        self.sent = ShmRing()
        self.received = ShmRing()

    @property
    def names(self) -> RingNames:
        return RingNames(self.sent.name, self.received.name)

    def close(self) -> None:
        self.sent.close(unlink=True)
        self.received.close(unlink=True)
