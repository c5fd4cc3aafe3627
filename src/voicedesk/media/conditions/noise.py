"""Noise at a set SNR: white, pink, babble (talkers mixed here) or a recorded file.

Every kind becomes one loop of unit RMS made before the call (seeded, so a run repeats);
``NoiseMixer`` reads it frame by frame at the gain the SNR asks against the caller's speech.
"""

from __future__ import annotations

import numpy as np

from voicedesk.media.pcm import FRAME_SAMPLES, SAMPLE_RATE

LOOP_S = 8.0  # long enough that the loop's repetition is not a pattern an agent's VAD could learn
ACTIVE_DBFS = -50.0  # a 20 ms block of the caller's own audio louder than this counts as speech


def unit_rms(samples: np.ndarray) -> np.ndarray:
    """``samples`` scaled to an RMS of 1 (float32): every loop is made at this level."""
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0
    return (samples / rms).astype(np.float32) if rms > 0 else samples.astype(np.float32)


def white(seed: int, seconds: float = LOOP_S) -> np.ndarray:
    return unit_rms(np.random.default_rng(seed).standard_normal(int(seconds * SAMPLE_RATE)))


def pink(seed: int, seconds: float = LOOP_S) -> np.ndarray:
    """1/f power: white noise shaped in the frequency domain (the loop is one FFT block, so
    it wraps without a seam)."""
    n = int(seconds * SAMPLE_RATE)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    f[0] = f[1]
    spectrum /= np.sqrt(f)
    spectrum[f < 20.0] = 0.0  # no DC or sub-audio rumble
    return unit_rms(np.fft.irfft(spectrum, n))


def babble(talkers: list[np.ndarray], seed: int, seconds: float = LOOP_S) -> np.ndarray:
    """Several talkers at once, each looped from a seeded offset: the sound of a busy room."""
    n = int(seconds * SAMPLE_RATE)
    rng = np.random.default_rng(seed)
    out = np.zeros(n, dtype=np.float64)
    for talker in talkers:
        if not talker.size:
            continue
        talker = unit_rms(talker)
        start = int(rng.integers(0, talker.size))
        reps = int(np.ceil((n + start) / talker.size))
        out += np.tile(talker, reps)[start : start + n]
    return unit_rms(out)


def block_power(samples: np.ndarray, block: int = FRAME_SAMPLES) -> np.ndarray:
    """The mean square of each whole 20 ms block (a partial last block is left out)."""
    n = samples.size // block
    return np.mean(np.square(samples[: n * block].reshape(n, block), dtype=np.float64), axis=1)


def active_rms(samples: np.ndarray, block: int = FRAME_SAMPLES) -> float | None:
    """RMS over the 20 ms blocks louder than ``ACTIVE_DBFS``: the level of speech when it speaks
    (what an SNR is measured against), or None if nothing is that loud."""
    power = block_power(samples, block)
    active = power[power > 10 ** (ACTIVE_DBFS / 10)]
    return float(np.sqrt(active.mean())) if active.size else None


class NoiseMixer:
    """Noise for each frame at ``snr_db`` below the speech.

    The speech level is the caller's active level: known before the call when the source's
    audio is (a file, words to say: ``speech_rms``), else learned from the frames sent (a
    microphone), starting at -26 dBFS (a normal talker). The reported SNR is measured on the
    two parts actually mixed, so a level that had to be learned shows in it."""

    def __init__(self, loop: np.ndarray, snr_db: float, seed: int, speech_rms: float | None = None) -> None:
        self.loop = loop
        self.snr_db = snr_db
        self._pos = int(np.random.default_rng(seed + 1).integers(0, max(1, loop.size)))
        self._fixed = speech_rms is not None
        self._speech_power = (speech_rms if speech_rms is not None else 10 ** (-26 / 20)) ** 2
        self._learned_frames = 0
        self.noise_energy = 0.0  # sums for the SNR actually sent
        self.noise_samples = 0
        self.speech_energy = 0.0
        self.speech_samples = 0

    def next(self, count: int, power: float) -> np.ndarray:
        """Noise for ``count`` samples of speech whose mean square is ``power`` (the caller worked it out)."""
        if power > 10 ** (ACTIVE_DBFS / 10):
            self.speech_energy += power * count
            self.speech_samples += count
            if not self._fixed:  # a running mean of the active frames' power
                self._learned_frames += 1
                self._speech_power += (power - self._speech_power) / min(self._learned_frames, 100)
        end = self._pos + count
        if end <= self.loop.size:
            unit = self.loop[self._pos : end]
        else:
            unit = np.concatenate((self.loop[self._pos :], self.loop[: end - self.loop.size]))
        self._pos = end % self.loop.size
        gain = np.float32(np.sqrt(self._speech_power / 10 ** (self.snr_db / 10)))
        noise = unit * gain
        self.noise_energy += float(np.dot(noise, noise))
        self.noise_samples += count
        return noise

    @property
    def measured_snr_db(self) -> float | None:
        """Active speech power over noise power, of what was mixed (None before both exist)."""
        if not self.speech_samples or not self.noise_energy:
            return None
        speech = self.speech_energy / self.speech_samples
        noise = self.noise_energy / self.noise_samples
        return float(10 * np.log10(speech / noise))
