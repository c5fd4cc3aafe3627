"""Pauses inside a turn: one sentence said in two halves with ``pause_ms`` of silence between.

The halves are trimmed of their own silence first, so the pause an agent's VAD meets is the
one asked for, to the sample (``voicedesk probe turn-taking`` steps it to find the shortest
pause an agent takes as the end of the turn).
"""

from __future__ import annotations

import numpy as np

from voicedesk.media.conditions.noise import ACTIVE_DBFS, block_power
from voicedesk.media.pcm import FRAME_SAMPLES, SAMPLE_RATE

EDGE_AMPLITUDE = 1e-3  # -60 dBFS: where a trimmed sound begins and ends


def trim(samples: np.ndarray) -> np.ndarray:
    """``samples`` without the quiet before its first and after its last loud 20 ms frame."""
    loud = np.nonzero(block_power(samples) > 10 ** (ACTIVE_DBFS / 10))[0]
    if not loud.size:
        return samples[:0]
    # to the sample: from the first to the last sample above -60 dBFS near the loud frames' edges
    lo = max(0, (loud[0] - 1) * FRAME_SAMPLES)
    hi = min(samples.size, (loud[-1] + 2) * FRAME_SAMPLES)
    audible = np.nonzero(np.abs(samples[lo:hi]) > EDGE_AMPLITUDE)[0]
    return samples[lo + audible[0] : lo + audible[-1] + 1]


def split_words(text: str) -> tuple[str, str] | None:
    """The sentence's words in two halves (None for a single word: nothing to split)."""
    words = text.split()
    if len(words) < 2:
        return None
    middle = (len(words) + 1) // 2
    return " ".join(words[:middle]), " ".join(words[middle:])


def split_audio(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """A recorded sentence cut at its quietest 20 ms in the middle third (a word boundary)."""
    speech = trim(samples)
    n = speech.size // FRAME_SAMPLES
    if n < 6:
        return None
    energy = block_power(speech)
    lo, hi = n // 3, max(n // 3 + 1, 2 * n // 3)
    cut = (lo + int(np.argmin(energy[lo:hi]))) * FRAME_SAMPLES
    return speech[:cut], speech[cut:]


def join(first: np.ndarray, second: np.ndarray, pause_ms: float) -> tuple[np.ndarray, int, int]:
    """The halves (trimmed) with the pause between: (samples, first half's end, second's start)."""
    a, b = trim(first), trim(second)
    gap = np.zeros(round(pause_ms * SAMPLE_RATE / 1000), dtype=np.float32)
    return np.concatenate((a, gap, b)).astype(np.float32), a.size, a.size + gap.size
