"""Sample-rate conversion of mono audio (libswresample through av): the one resampler.

One ``StreamResampler`` per stream: it keeps the filter state between blocks, so a
stream cut into 10 ms device blocks converts as one piece (no clicks at block
edges). Same-rate streams pass through untouched. Devices, engines that want another
rate than the call's 48 kHz, and the ``say:`` source all use it.
"""

from __future__ import annotations

import av
import numpy as np


def to_float(samples: np.ndarray) -> np.ndarray:
    """float32 in [-1, 1) from int16 (or any float array)."""
    return (samples.astype(np.float32) / 32768.0) if samples.dtype == np.int16 else samples.astype(np.float32)


def to_int16(samples: np.ndarray) -> np.ndarray:
    """int16 from float samples in [-1, 1) (clipped), int16 unchanged."""
    if samples.dtype == np.int16:
        return samples
    return np.clip(samples * 32768.0, -32768, 32767).astype(np.int16)


class StreamResampler:
    def __init__(self, rate_in: int, rate_out: int) -> None:
        self.rate_in = int(rate_in)
        self.rate_out = int(rate_out)
        self._resampler = (
            None
            if self.rate_in == self.rate_out
            else av.AudioResampler(format="flt", layout="mono", rate=self.rate_out)
        )

    @property
    def passthrough(self) -> bool:
        return self._resampler is None

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Convert one block (int16 or float) to float32; the output length varies by a
        sample or so between blocks."""
        block = np.ascontiguousarray(to_float(samples), dtype=np.float32)
        if self._resampler is None or block.size == 0:
            return block
        frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = self.rate_in
        return self._collect(self._resampler.resample(frame))

    def flush(self) -> np.ndarray:
        """What the filter still holds at the end of the stream."""
        if self._resampler is None:
            return np.zeros(0, dtype=np.float32)
        return self._collect(self._resampler.resample(None))

    @staticmethod
    def _collect(frames: list[av.AudioFrame]) -> np.ndarray:
        out = [f.to_ndarray()[0] for f in frames]
        if not out:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(out).astype(np.float32, copy=False)


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """One-shot conversion of a whole clip (int16 or float); returns int16."""
    if from_rate == to_rate:
        return to_int16(samples)
    r = StreamResampler(from_rate, to_rate)
    return to_int16(np.concatenate((r.process(samples), r.flush())))
