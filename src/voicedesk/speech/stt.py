"""Speech to text with pocketsphinx and the en-US model its wheel carries.

Two modes:

- ``constrained`` (default): a trigram language model built at start from a
  list of phrases (the responder's intents and replies plus a small everyday
  vocabulary) and a dictionary cut down to those words. On espeak-ng speech this
  gets the in-domain phrases mostly right; words outside the list come out as
  the nearest words inside it.
- ``open``: the wheel's general en-US language model and 130k-word dictionary.
  It accepts anything, and transcribes synthetic speech poorly.

pocketsphinx holds the GIL while it decodes (measured: building a decoder
stalled a 5 ms asyncio ticker for 0.5–1.7 s), so a thread is not enough to keep
RTP flowing: each call's recognizer runs in its own worker process (speech/worker.py)
and the event loop only awaits its answers. ``transcribe`` is the blocking one-shot
form for scripts and tests.
"""

from __future__ import annotations

import io
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from voicedesk.errors import ConfigError, PipelineError
from voicedesk.speech.worker import WorkerRecognizer

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
MODES = ("constrained", "open")
INSTALL_HINT = "install it with: pip install pocketsphinx (its wheel carries the en-US model)"

# Words a caller may well say to a test agent, beyond the responder's own phrases.
SMALL_VOCABULARY = (
    "yes",
    "no",
    "okay",
    "please",
    "stop",
    "wait",
    "again",
    "repeat that please",
    "can you hear me",
    "i can hear you",
    "testing one two three",
    "one two three four five six seven eight nine ten",
    "red green blue yellow",
    "good morning",
    "good afternoon",
    "good evening",
    "how are you",
    "i am fine",
    "tell me a joke",
    "say something",
)


@dataclass(frozen=True)
class SttSettings:
    mode: str = "constrained"
    phrases: tuple[str, ...] = ()
    # language weight: 10 fitted on espeak-ng speech against the small LM (6.5 is the default)
    language_weight: float = 10.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"unknown stt mode {self.mode!r}: use {' or '.join(MODES)}")


def normalize(text: str) -> str:
    """Lower case, letters, digits and apostrophes only: the form of the phrase list's words
    (the pronunciation dictionary's) and of hypotheses. Transcripts are compared in
    speech/text.py's ``normalize`` (numbers, contractions) instead."""
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split())


def check_pocketsphinx() -> None:
    """Raise PipelineError naming what to install when pocketsphinx or its model is missing."""
    try:
        import pocketsphinx
    except ImportError:
        raise PipelineError(f"the voice agent needs pocketsphinx for speech recognition; {INSTALL_HINT}") from None
    model = Path(pocketsphinx.get_model_path()) / "en-us"
    if not (model / "en-us").is_dir() or not (model / "cmudict-en-us.dict").is_file():
        raise PipelineError(f"pocketsphinx's en-US model is missing under {model}; reinstall it: {INSTALL_HINT}")


@lru_cache(maxsize=1)
def _cmudict() -> dict[str, list[str]]:
    """The wheel's pronunciation dictionary, word -> lines (alternates included)."""
    import pocketsphinx

    entries: dict[str, list[str]] = {}
    path = Path(pocketsphinx.get_model_path()) / "en-us" / "cmudict-en-us.dict"
    with open(path, encoding="utf-8") as f:
        for line in f:
            word = line.split(" ", 1)[0]
            entries.setdefault(re.sub(r"\(\d+\)$", "", word), []).append(line.rstrip("\n"))
    return entries


def build_decoder(settings: SttSettings):  # -> pocketsphinx.Decoder (not imported at module level)
    """A decoder for ``settings`` (blocking: 0.1–0.5 s constrained, ~0.3 s open)."""
    from pocketsphinx import Decoder

    if settings.mode == "open":
        return Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")
    from pocketsphinx.lm import ArpaBoLM

    cmudict = _cmudict()
    sentences: list[str] = []
    unknown: set[str] = set()
    for phrase in settings.phrases or SMALL_VOCABULARY:
        words = normalize(phrase).split()
        unknown.update(w for w in words if w not in cmudict)
        words = [w for w in words if w in cmudict]
        if words:
            sentences.append(" ".join(words))
    if unknown:
        logger.info("recognizer vocabulary: no pronunciation for %s", ", ".join(sorted(unknown)))
    if not sentences:
        raise PipelineError("the recognizer's phrase list holds no word it can pronounce")
    lm = ArpaBoLM(text="\n".join(sentences) + "\n", add_start=True, case="lower")
    lm.compute()
    arpa = io.StringIO()
    lm.write(arpa)
    vocabulary = sorted({w for s in sentences for w in s.split()})
    with tempfile.TemporaryDirectory(prefix="voicedesk-stt-") as tmp:
        lm_path = os.path.join(tmp, "agent.lm")
        dict_path = os.path.join(tmp, "agent.dict")
        Path(lm_path).write_text(arpa.getvalue(), encoding="utf-8")
        Path(dict_path).write_text("\n".join(line for w in vocabulary for line in cmudict[w]) + "\n", encoding="utf-8")
        return Decoder(samprate=SAMPLE_RATE, loglevel="FATAL", lm=lm_path, dict=dict_path, lw=settings.language_weight)


def _hyp(decoder) -> str:
    hyp = decoder.hyp()
    return normalize(hyp.hypstr) if hyp is not None else ""


def transcribe(samples: np.ndarray, sample_rate: int, settings: SttSettings | None = None, decoder=None) -> str:
    """Recognize a whole clip (blocking, in this process). ``samples`` int16 or float."""
    from voicedesk.media.resample import resample

    decoder = decoder or build_decoder(settings or SttSettings())
    pcm = resample(samples, sample_rate, SAMPLE_RATE)
    decoder.start_utt()
    decoder.process_raw(pcm.tobytes(), False, True)
    decoder.end_utt()
    return _hyp(decoder)


# --- worker process side (speech/worker.py runs it) ------------------------


class _Worker:
    """Live decoding for partial transcripts, then the whole utterance again for the final one.

    Live decoding normalizes the audio (CMN) with a running estimate carried over from
    earlier utterances, so a call's first utterances came out with stray words ("what is
    the weather two do"); decoding the whole utterance at once normalizes over itself,
    as ``transcribe`` does. The second pass costs ~5 % of the utterance's duration
    (constrained), ~15 % (open), after the caller stopped.
    """

    def __init__(self) -> None:
        self.decoder: Any = None  # a pocketsphinx Decoder (untyped) once loaded
        self.resampler: Any = None
        self.audio: list[np.ndarray] = []

    def load(self, settings: SttSettings) -> float:
        started = time.monotonic()
        self.decoder = build_decoder(settings)
        return time.monotonic() - started

    def begin(self, input_rate: int) -> None:
        from voicedesk.media.resample import StreamResampler

        self.resampler = StreamResampler(input_rate, SAMPLE_RATE)
        self.audio = []
        self.decoder.start_utt()

    def feed(self, pcm: bytes, want_partial: bool) -> str | None:
        from voicedesk.media.resample import to_int16

        samples = to_int16(self.resampler.process(np.frombuffer(pcm, dtype="<i2")))
        self.audio.append(samples)
        self.decoder.process_raw(samples.tobytes(), False, False)
        return _hyp(self.decoder) if want_partial else None

    def finish(self) -> str:
        from voicedesk.media.resample import to_int16

        self.audio.append(to_int16(self.resampler.flush()))
        self.decoder.end_utt()
        pcm = np.concatenate(self.audio) if self.audio else np.zeros(0, dtype=np.int16)
        self.audio = []
        # decoding the first utterance twice (the first pass fitting the normalization) fixed a
        # stray last word in a call's first turn but doubled its transcription time: not worth it
        self.decoder.start_utt()
        self.decoder.process_raw(pcm.tobytes(), False, True)
        self.decoder.end_utt()
        return _hyp(self.decoder)

    def clip(self, pcm: bytes, input_rate: int) -> tuple[str, list[tuple[str, float, float]]]:
        """A whole clip, with each word's time (ms from the clip's first sample)."""
        text = transcribe(np.frombuffer(pcm, dtype="<i2"), input_rate, decoder=self.decoder)
        words = [
            (re.sub(r"\(\d+\)$", "", seg.word), seg.start_frame * 10.0, (seg.end_frame + 1) * 10.0)
            for seg in self.decoder.seg()
            if not seg.word.startswith(("<", "[")) and seg.word not in ("<sil>",)
        ]
        return text, words


def new_worker() -> _Worker:
    return _Worker()


class Recognizer(Protocol):
    """What the STT stage needs of a speech recognizer (all calls in order, one utterance at a time)."""

    async def start(self) -> None: ...  # load models; may take a while

    async def begin(self, input_rate: int) -> None: ...

    async def feed(self, samples: np.ndarray, want_partial: bool = False) -> str | None: ...

    async def finish(self) -> str: ...  # the final transcript of the utterance

    async def close(self) -> None: ...


class PocketsphinxRecognizer(WorkerRecognizer[SttSettings]):
    """One utterance at a time, decoded in a worker process of its own (speech/worker.py)."""

    name = "pocketsphinx"
    module = "voicedesk.speech.stt"

    @property
    def label(self) -> str:
        return f"pocketsphinx {self.settings.mode}"
