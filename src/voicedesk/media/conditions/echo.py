"""The echo path: what the caller received, fed back into what it sends.

A caller on a speakerphone without echo cancellation sends the agent its own voice back,
``delay_ms`` later and ``erl_db`` quieter (echo return loss). Received audio is written into
a FIFO as it arrives; each sent frame takes the oldest block once ``delay_ms`` has been
buffered, so the echo trails the arrival by the delay (±one 20 ms frame: the two clocks tick
independently). Nothing received yet is reported, not silently skipped.
"""

from __future__ import annotations

import numpy as np

from voicedesk.media.pcm import SAMPLE_RATE

SLACK_MS = 60.0  # a FIFO longer than delay + this (a burst after a stall) drops its oldest audio


def _speaker_fir(taps: int = 63) -> np.ndarray:
    """A small laptop speaker: nothing below ~300 Hz, little above ~6 kHz (windowed-sinc band-pass)."""
    n = np.arange(taps) - (taps - 1) / 2

    def lowpass(fc: float) -> np.ndarray:
        return 2 * fc / SAMPLE_RATE * np.sinc(2 * fc / SAMPLE_RATE * n)

    band = (lowpass(6000.0) - lowpass(300.0)) * np.hamming(taps)
    return band.astype(np.float32)


class EchoPath:
    def __init__(self, delay_ms: float, erl_db: float, speaker: bool = False) -> None:
        self.delay = int(delay_ms * SAMPLE_RATE / 1000)
        self.gain = float(10 ** (-erl_db / 20))
        self._fifo = np.zeros(0, dtype=np.float32)
        self._started = False
        self._fir = _speaker_fir() if speaker else None
        self._tail = np.zeros(self._fir.size - 1 if self._fir is not None else 0, dtype=np.float32)
        self.received_samples = 0
        self.fed_back_samples = 0
        self.dropped_samples = 0
        self.first_fed_at: int | None = None  # caller sample where echo first went out

    def received(self, samples: np.ndarray) -> None:
        self.received_samples += samples.size
        self._fifo = np.concatenate((self._fifo, samples.astype(np.float32, copy=False)))
        excess = self._fifo.size - (self.delay + int(SLACK_MS * SAMPLE_RATE / 1000))
        if self._started and excess > 0:
            self._fifo = self._fifo[excess:]
            self.dropped_samples += excess

    def next(self, count: int, position: int) -> np.ndarray | None:
        """``count`` samples of echo for the frame at caller sample ``position``, or None."""
        if not self._started:
            if self._fifo.size < self.delay + count or not self.received_samples:
                return None
            self._started = True
        block, self._fifo = self._fifo[:count], self._fifo[count:]
        if block.size < count:
            block = np.pad(block, (0, count - block.size))
        if self._fir is not None:
            padded = np.concatenate((self._tail, block))
            self._tail = padded[-self._tail.size :] if self._tail.size else self._tail
            # a small driver saturates
            block = (np.tanh(1.5 * np.convolve(padded, self._fir, mode="valid")) / 1.5).astype(np.float32, copy=False)
        if self.first_fed_at is None and np.any(block):
            self.first_fed_at = position
        self.fed_back_samples += count
        return (block * self.gain).astype(np.float32, copy=False)  # float32 already: no second copy
