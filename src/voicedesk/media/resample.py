"""Streaming sample-rate conversion of mono float32 blocks (libswresample through av).

One ``StreamResampler`` per stream: it keeps the filter state between blocks, so
a stream cut into 10 ms device blocks converts as one piece (no clicks at block
edges). Same-rate streams pass through untouched.
"""

from __future__ import annotations

import av
import numpy as np


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
        """Convert one block; the output length varies by a sample or so between blocks."""
        block = np.ascontiguousarray(samples, dtype=np.float32)
        if self._resampler is None or block.size == 0:
            return block
        frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = self.rate_in
        out = [f.to_ndarray()[0] for f in self._resampler.resample(frame)]
        if not out:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(out).astype(np.float32, copy=False)
