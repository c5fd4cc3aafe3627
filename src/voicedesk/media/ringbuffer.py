"""A fixed-size ring of the most recent mono samples.

Writers append whole blocks; readers (waveform plots, analysers) copy the most
recent N samples on their own schedule, so audio never pushes to a view.
"""

from __future__ import annotations

import threading

import numpy as np


class RingBuffer:
    def __init__(self, capacity: int) -> None:
        self._data = np.zeros(capacity, dtype=np.float32)
        self._capacity = capacity
        self._written = 0
        self._pos = 0  # where the next sample goes
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def written(self) -> int:
        """Total samples ever written (monotonic), so readers can tell what is new."""
        return self._written

    def write(self, samples: np.ndarray) -> None:
        samples = np.asarray(samples, dtype=np.float32)
        total = samples.size
        if samples.size >= self._capacity:
            samples = samples[-self._capacity :]
        n = samples.size
        with self._lock:
            start = self._pos
            write_wrapped(self._data, start, samples)
            self._pos = (start + n) % self._capacity
            # count what was written, not what fitted: readers compare ``written`` to find what is new
            self._written += total

    def latest(self, count: int) -> np.ndarray:
        """A copy of the most recent ``count`` samples (fewer if fewer were written)."""
        with self._lock:
            count = min(count, self._capacity, self._written)
            end = self._pos
            start = end - count
            if start >= 0:
                return self._data[start:end].copy()
            return np.concatenate((self._data[start:], self._data[:end]))


def write_wrapped(data: np.ndarray, start: int, samples: np.ndarray) -> None:
    """Copy ``samples`` (no longer than ``data``) into the circular ``data`` from ``start``."""
    end = start + samples.size
    if end <= data.size:
        data[start:end] = samples
    else:
        split = data.size - start
        data[start:] = samples[:split]
        data[: end - data.size] = samples[split:]
