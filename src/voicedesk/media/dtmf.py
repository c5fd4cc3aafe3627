"""DTMF as in-band tones (ITU-T Q.23 pairs): generate them, and find them in audio.

``dtmf_samples("1234#")`` gives 48 kHz audio with one 90 ms dual tone per digit
and 70 ms of silence after each (Q.24 asks receivers to accept >= 40 ms tones and
gaps; 80-100 ms is what phones send). A comma is a 500 ms pause, as on a phone's
dial string. ``OutboundAudioTrack.send_dtmf`` puts the tones into the outgoing
audio in place of the source, so they are what is sent, recorded and metered.

``detect_dtmf`` (Goertzel filters on 20 ms windows, 10 ms apart) reads digits
back from audio: tests use it on what came back from an echo, and an agent
behind an IVR test can use it on what it heard.
"""

from __future__ import annotations

import numpy as np

from voicedesk.errors import ConfigError
from voicedesk.media.pcm import SAMPLE_RATE

LOW = (697.0, 770.0, 852.0, 941.0)
HIGH = (1209.0, 1336.0, 1477.0, 1633.0)
KEYS = ("123A", "456B", "789C", "*0#D")
DTMF_FREQUENCIES: dict[str, tuple[float, float]] = {
    key: (LOW[row], HIGH[col]) for row, keys in enumerate(KEYS) for col, key in enumerate(keys)
}
PAUSE = ","
PAUSE_MS = 500.0
TONE_MS = 90.0
GAP_MS = 70.0
AMPLITUDE = 0.3  # per tone; the pair peaks at 0.6 (about -7 dBFS per tone, no clipping through Opus)
EDGE_MS = 3.0  # raised-cosine edges: a hard-keyed tone splatters energy across the band


def validate_digits(digits: str) -> str:
    """Upper-cased digits, or ConfigError naming the first character that is not a DTMF key."""
    cleaned = digits.replace(" ", "").upper()
    for char in cleaned:
        if char not in DTMF_FREQUENCIES and char != PAUSE:
            raise ConfigError(f"bad DTMF digits {digits!r}: {char!r} is not one of 0-9 * # A-D (',' pauses)")
    if not cleaned:
        raise ConfigError("no DTMF digits given: use e.g. --dtmf '1234#'")
    return cleaned


def tone_pair(key: str, duration_ms: float = TONE_MS, amplitude: float = AMPLITUDE) -> np.ndarray:
    low, high = DTMF_FREQUENCIES[key]
    count = int(SAMPLE_RATE * duration_ms / 1000)
    t = np.arange(count) / SAMPLE_RATE
    tone = amplitude * (np.sin(2 * np.pi * low * t) + np.sin(2 * np.pi * high * t))
    edge = min(int(SAMPLE_RATE * EDGE_MS / 1000), count // 2)
    if edge:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, edge))
        tone[:edge] *= ramp
        tone[-edge:] *= ramp[::-1]
    return tone.astype(np.float32)


def dtmf_samples(
    digits: str, tone_ms: float = TONE_MS, gap_ms: float = GAP_MS, amplitude: float = AMPLITUDE
) -> np.ndarray:
    """The whole dial string as 48 kHz mono float32."""
    if not 40.0 <= tone_ms <= 1000.0 or not 40.0 <= gap_ms <= 1000.0:
        raise ConfigError("DTMF tones and gaps must each last 40-1000 ms")
    gap = np.zeros(int(SAMPLE_RATE * gap_ms / 1000), dtype=np.float32)
    pause = np.zeros(int(SAMPLE_RATE * PAUSE_MS / 1000), dtype=np.float32)
    parts: list[np.ndarray] = []
    for key in validate_digits(digits):
        if key == PAUSE:
            parts.append(pause)
        else:
            parts.extend((tone_pair(key, tone_ms, amplitude), gap))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def _goertzel_power(block: np.ndarray, freqs: tuple[float, ...], rate: int) -> np.ndarray:
    n = np.arange(block.size)
    # one DFT bin per frequency, evaluated exactly at that frequency (not the nearest FFT bin)
    basis = np.exp(-2j * np.pi * np.outer(freqs, n) / rate)
    return np.abs(basis @ block) ** 2


def detect_dtmf(
    samples: np.ndarray, rate: int = SAMPLE_RATE, min_tone_ms: float = 30.0, min_gap_ms: float = 40.0
) -> str:
    """The DTMF digits heard in ``samples``, in order (a held key counts once). The same key
    counts again only after a pause of about ``min_gap_ms`` without its tones (Q.24's
    shortest pause between presses); a shorter break, or one where its tones are still there
    but spoiled (a lost packet's concealment, a browser's glitch), is the same press."""
    window = int(rate * 0.020)
    hop = int(rate * 0.010)
    samples = np.asarray(samples, dtype=np.float64)
    hann = np.hanning(window)
    freqs = LOW + HIGH
    needed = max(1, int(np.ceil((min_tone_ms - 20.0) / 10.0)) + 1)  # consecutive windows
    # a pause of 40 ms leaves 3 windows in a row without the tones (2 wholly in it, and its
    # edges, where the Hann window weighs the tone little); a 20 ms dropout leaves at most 2
    gap_needed = max(1, int((min_gap_ms - 20.0) // 10.0) + 1)
    digits: list[str] = []
    current: str | None = None
    run = 0
    reported = False
    last_key: str | None = None  # the key reported last
    absent = 0  # windows in a row without its two tones
    pause = gap_needed  # the longest such stretch since it was last counted
    for start in range(0, samples.size - window + 1, hop):
        block = samples[start : start + window]
        energy = float(np.sum(block**2))
        key = None
        carries_last = False
        if energy > window * 1e-6:  # below about -60 dBFS: silence
            power = _goertzel_power(block * hann, freqs, rate)
            low, high = power[:4], power[4:]
            li, hi = int(np.argmax(low)), int(np.argmax(high))
            others = np.concatenate((np.delete(low, li), np.delete(high, hi)))
            # both tones clearly above the other six, and together most of the block's energy (not speech)
            if others.max() * 10 < min(low[li], high[hi]) and _tone_fraction(low[li], high[hi], hann, energy) > 0.6:
                key = KEYS[li][hi]
            if last_key is not None:  # its two tones still a good part of the block: the press goes on
                row, col = next((r, k.index(last_key)) for r, k in enumerate(KEYS) if last_key in k)
                carries_last = _tone_fraction(low[row], high[col], hann, energy) > 0.25
        if key is not None and key == current:
            run += 1
        else:
            current, run, reported = key, 1, False
        if key is not None and run >= needed and not reported:
            if key != last_key or pause >= gap_needed:
                digits.append(key)
            last_key, reported, pause = key, True, 0
        absent = 0 if key == last_key or carries_last else absent + 1
        pause = max(pause, absent)
    return "".join(digits)


def _tone_fraction(low_power: float, high_power: float, hann: np.ndarray, energy: float) -> float:
    """The share of the block's energy in a tone pair: a sine of amplitude A gives
    |X|^2 = (A * sum(hann) / 2)^2 in its bin and A^2 * N / 2 of energy."""
    amp2 = 4.0 * (low_power + high_power) / float(np.sum(hann)) ** 2
    return amp2 * hann.size / 2.0 / energy
