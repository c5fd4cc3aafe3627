"""Sample-rate conversion for engines that want another rate than the call's 48 kHz."""

from __future__ import annotations

import av
import numpy as np


class StreamResampler:
    """Converts a stream of mono blocks between rates, keeping filter state across blocks.

    Input and output are int16 or float32 numpy arrays; ``push`` returns int16.
    """

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=to_rate)

    def push(self, samples: np.ndarray) -> np.ndarray:
        if samples.size == 0:
            return np.zeros(0, dtype=np.int16)
        if samples.dtype != np.int16:
            samples = np.clip(samples * 32768.0, -32768, 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.from_rate
        return self._collect(self._resampler.resample(frame))

    def flush(self) -> np.ndarray:
        return self._collect(self._resampler.resample(None))

    @staticmethod
    def _collect(frames: list[av.AudioFrame]) -> np.ndarray:
        if not frames:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.int16)


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """One-shot conversion of a whole clip; returns int16."""
    if from_rate == to_rate:
        return samples if samples.dtype == np.int16 else np.clip(samples * 32768.0, -32768, 32767).astype(np.int16)
    r = StreamResampler(from_rate, to_rate)
    return np.concatenate((r.push(samples), r.flush()))


def to_float(samples: np.ndarray) -> np.ndarray:
    return (samples.astype(np.float32) / 32768.0) if samples.dtype == np.int16 else samples.astype(np.float32)
