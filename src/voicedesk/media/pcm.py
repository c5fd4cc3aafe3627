"""av.AudioFrame <-> numpy, levels and the dominant frequency of a block of audio.

Inside VoiceDesk audio travels as mono float32 in [-1, 1] at 48 kHz; frames on the
wire are what aiortc's codecs want (s16, 20 ms at 48 kHz).
"""

from __future__ import annotations

import fractions

import av
import numpy as np

SAMPLE_RATE = 48_000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
SILENCE_DBFS = -120.0


def frame_to_mono(frame: av.AudioFrame) -> np.ndarray:
    """Return the frame's samples as mono float32 in [-1, 1] (channels averaged)."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    fmt = frame.format.name
    if frame.format.is_planar:
        samples = data.astype(np.float32).mean(axis=0) if channels > 1 else data[0]
    else:
        samples = data.reshape(-1, channels).astype(np.float32).mean(axis=1)
    samples = np.asarray(samples, dtype=np.float32)
    if fmt.startswith("s16"):
        samples = samples / 32768.0
    elif fmt.startswith("s32"):
        samples = samples / 2147483648.0
    return samples


def mono_to_frame(samples: np.ndarray, pts: int | None, sample_rate: int = SAMPLE_RATE) -> av.AudioFrame:
    """Build an s16 mono frame from float samples in [-1, 1]."""
    pcm = np.clip(samples * 32768.0, -32768, 32767).astype(np.int16)
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = sample_rate
    frame.pts = pts
    frame.time_base = fractions.Fraction(1, sample_rate)
    return frame


def level_dbfs(samples: np.ndarray) -> float:
    """RMS level in dBFS (a full-scale sine reads -3 dBFS); silence reads -120."""
    if samples.size == 0:
        return SILENCE_DBFS
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    if rms <= 1e-6:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20.0 * np.log10(rms))


def peak_dbfs(samples: np.ndarray) -> float:
    if samples.size == 0:
        return SILENCE_DBFS
    peak = float(np.max(np.abs(samples)))
    return SILENCE_DBFS if peak <= 1e-6 else max(SILENCE_DBFS, 20.0 * np.log10(peak))


def dominant_frequency(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float | None:
    """The frequency (Hz) of the strongest spectral peak, or None for silence.

    Hann window plus parabolic interpolation between bins, so a one-second block
    resolves a tone to well under 1 Hz.
    """
    if samples.size < 256 or level_dbfs(samples) < -70.0:
        return None
    windowed = (samples - samples.mean()) * np.hanning(samples.size)
    spectrum = np.abs(np.fft.rfft(windowed))
    spectrum[0] = 0.0
    k = int(np.argmax(spectrum))
    if 0 < k < spectrum.size - 1:
        a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-12)
        denom = a - 2 * b + c
        offset = 0.5 * (a - c) / denom if denom != 0 else 0.0
    else:
        offset = 0.0
    return (k + offset) * sample_rate / samples.size
