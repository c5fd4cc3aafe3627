"""Non-speech sounds made here, seeded (no recordings to download): a cough, a laugh, a knock.

Each is a few hundred milliseconds at a normal talker's level (about -20 dBFS RMS while it
sounds), so it meets an agent's VAD as a real one would.
"""

from __future__ import annotations

import numpy as np

from voicedesk.media.pcm import SAMPLE_RATE

LEVEL_RMS = 0.1  # -20 dBFS


def _t(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE


def _band(noise: np.ndarray, low: float, high: float) -> np.ndarray:
    spectrum = np.fft.rfft(noise)
    f = np.fft.rfftfreq(noise.size, 1.0 / SAMPLE_RATE)
    spectrum[(f < low) | (f > high)] = 0.0
    return np.fft.irfft(spectrum, noise.size)


def _level(samples: np.ndarray) -> np.ndarray:
    loud = samples[np.abs(samples) > 0.05 * np.max(np.abs(samples))] if samples.size else samples
    rms = float(np.sqrt(np.mean(loud**2))) if loud.size else 1.0
    return (samples * LEVEL_RMS / rms).astype(np.float32)


def cough(seed: int) -> np.ndarray:
    """A sharp burst of breath noise (300–3500 Hz) with a fast attack and a 250 ms decay."""
    rng = np.random.default_rng(seed)
    t = _t(0.35)
    envelope = np.minimum(t / 0.008, 1.0) * np.exp(-t / 0.09)
    return _level(_band(rng.standard_normal(t.size), 300, 3500) * envelope)


def laugh(seed: int) -> np.ndarray:
    """Four voiced "ha"s: a 200 Hz glottal buzz with breath, shaped into vowel-like bursts."""
    rng = np.random.default_rng(seed)
    pulses = []
    for i in range(4):
        t = _t(0.13)
        f0 = 210 - 12 * i
        buzz = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 12))
        voiced = _band(buzz + 0.4 * rng.standard_normal(t.size), 200, 3000)
        pulses.append(voiced * np.sin(np.pi * t / t[-1]) ** 2)
        pulses.append(np.zeros(int(0.07 * SAMPLE_RATE)))
    return _level(np.concatenate(pulses))


def knock(seed: int) -> np.ndarray:
    """Three knocks on a door: a click and damped wood resonances, 180 ms apart."""
    rng = np.random.default_rng(seed)
    t = _t(0.12)
    out = []
    for i in range(3):
        body = sum(a * np.sin(2 * np.pi * f * t) for a, f in ((1.0, 160 + 7 * i), (0.6, 420), (0.3, 1100)))
        click = rng.standard_normal(t.size) * np.exp(-t / 0.003)
        out.append(body * np.exp(-t / 0.025) + 0.5 * click)
        out.append(np.zeros(int(0.06 * SAMPLE_RATE)))
    return _level(np.concatenate(out))


SOUNDS = {"cough": cough, "laugh": laugh, "knock": knock}
