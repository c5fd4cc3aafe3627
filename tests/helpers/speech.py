"""Speech for tests: sentences spoken by the agent's own TTS, recognition of what came back."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from voicedesk.media.pcm import SAMPLE_RATE
from voicedesk.media.resample import resample, to_float
from voicedesk.media.sinks import AudioSink
from voicedesk.speech.stt import SMALL_VOCABULARY, SttSettings, transcribe
from voicedesk.speech.tts import find_tts


def speak(text: str) -> np.ndarray:
    """``text`` spoken by espeak-ng as mono float32 at 48 kHz."""
    tts = find_tts()
    return to_float(resample(tts.synthesize(text), tts.sample_rate, SAMPLE_RATE))


def write_wav(path: Path, samples: np.ndarray) -> Path:
    pcm = np.clip(samples * 32768.0, -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.tobytes())
    return path


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)


def spoken_wav(path: Path, *parts: str | float) -> Path:
    """A wav of texts (spoken) and numbers (seconds of silence), in order."""
    return write_wav(path, np.concatenate([silence(p) if isinstance(p, int | float) else speak(p) for p in parts]))


def agent_recognizer_settings() -> SttSettings:
    """The voice agent's default constrained recognizer, for the client side."""
    from voicedesk.agent.engines.responder import RuleResponder

    return SttSettings(phrases=(*RuleResponder().phrases(), *SMALL_VOCABULARY))


def recognize(samples: np.ndarray, settings: SttSettings | None = None) -> str:
    return transcribe(samples, SAMPLE_RATE, settings or agent_recognizer_settings())


def envelope_dbfs(samples: np.ndarray, block_s: float = 0.02) -> np.ndarray:
    """RMS level per block (dBFS), to find where speech starts and stops."""
    n = int(block_s * SAMPLE_RATE)
    blocks = samples[: samples.size // n * n].reshape(-1, n).astype(np.float64)
    rms = np.sqrt(np.mean(blocks**2, axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-6))


def active_spans(samples: np.ndarray, threshold_dbfs: float = -40.0, gap_s: float = 0.4) -> list[tuple[float, float]]:
    """(start, end) seconds of sound, pauses shorter than ``gap_s`` bridged."""
    env = envelope_dbfs(samples)
    spans: list[list[float]] = []
    for i, level in enumerate(env):
        if level <= threshold_dbfs:
            continue
        t = i * 0.02
        if spans and t - spans[-1][1] <= gap_s:
            spans[-1][1] = t + 0.02
        else:
            spans.append([t, t + 0.02])
    return [(a, b) for a, b in spans]


class CaptureSink(AudioSink):
    """Keeps every block a call receives, with its arrival time (``time.monotonic()``)."""

    def __init__(self) -> None:
        import time

        super().__init__()
        self._clock = time.monotonic
        self.blocks: list[tuple[float, np.ndarray]] = []

    def write(self, samples: np.ndarray) -> None:
        self.blocks.append((self._clock(), samples.copy()))

    def close(self) -> None:
        pass

    def audio(self) -> np.ndarray:
        return np.concatenate([b for _, b in self.blocks]) if self.blocks else np.zeros(0, dtype=np.float32)

    def loud_times(self, threshold_dbfs: float = -40.0) -> list[float]:
        """Arrival times of blocks louder than the threshold."""
        from voicedesk.media.pcm import level_dbfs

        return [t for t, b in self.blocks if level_dbfs(b) > threshold_dbfs]


def recognize_spans(samples: np.ndarray, settings: SttSettings | None = None) -> list[str]:
    """Recognize each stretch of sound on its own (as the agent does, one utterance at a time)."""
    from voicedesk.speech.stt import build_decoder

    decoder = build_decoder(settings or agent_recognizer_settings())
    texts = []
    for start, end in active_spans(samples):
        a, b = max(0, int((start - 0.2) * SAMPLE_RATE)), int((end + 0.2) * SAMPLE_RATE)
        texts.append(transcribe(samples[a:b], SAMPLE_RATE, decoder=decoder))
    return texts


def truncated_whisper_model(model: Path, where: Path) -> Path:
    """A copy of ``model`` whose model.bin is cut short: the header (and so the cheap check)
    is fine, the payload is not; found only when the worker loads it."""
    import shutil

    where.mkdir()
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy(model / name, where / name)
    with open(model / "model.bin", "rb") as src:
        (where / "model.bin").write_bytes(src.read(2_000_000))
    return where
