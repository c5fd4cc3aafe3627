"""Which recognizer transcribes: ``stt=constrained|open|whisper``, and the model for whisper.

One choice, read the same way everywhere VoiceDesk transcribes (scenario ``stt:``,
``voicedesk call --stt``, ``voicedesk test --stt``, the pytest plugin's ``stt=`` and
``--voicedesk-stt``, the voice agent's ``stt=`` option):

- ``constrained`` (default; always works with the speech extra): pocketsphinx with a
  language model of the phrases the caller expects;
- ``open``: pocketsphinx's general English model (poor on synthetic speech);
- ``whisper``: faster-whisper with a CTranslate2 Whisper model (speech/whisper.py):
  open vocabulary, word times, ~0.3 × real time on one core.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from voicedesk.errors import ConfigError
from voicedesk.speech.stt import PocketsphinxRecognizer, Recognizer, SttSettings, check_pocketsphinx
from voicedesk.speech.transcript import Transcript
from voicedesk.speech.whisper import (
    MODEL_ENV,
    WhisperRecognizer,
    WhisperSettings,
    check_faster_whisper,
    resolve_model,
)

STT_CHOICES = ("constrained", "open", "whisper")
STT_HELP = "constrained (default: pocketsphinx, phrases the caller expects), open (pocketsphinx) or whisper"


def add_stt_arguments(parser: Any, default: str | None = "constrained") -> None:
    """``--stt`` and ``--stt-model`` for commands that transcribe (``default`` None: no override)."""
    parser.add_argument(
        "--stt",
        choices=STT_CHOICES,
        default=default,
        help=f"the recognizer: {STT_HELP}" + (f" (default {default})" if default else " (default: the scenario's)"),
    )
    parser.add_argument(
        "--stt-model",
        metavar="PATH|NAME",
        help=f"--stt whisper: a CTranslate2 Whisper model directory or a model name (or ${MODEL_ENV}; "
        "default: the packaged tiny.en)",
    )


class ClipRecognizer(Recognizer, Protocol):
    """A recognizer that also takes a whole clip and gives word times (both engines do)."""

    load_s: float | None

    async def clip(self, samples: np.ndarray, sample_rate: int) -> Transcript: ...


@dataclass(frozen=True)
class SttChoice:
    stt: str = "constrained"
    model: str | None = None  # whisper: a model directory or name; None: $VOICEDESK_STT_MODEL, then packaged

    def __post_init__(self) -> None:
        if self.stt not in STT_CHOICES:
            raise ConfigError(f"unknown stt {self.stt!r}: use {', '.join(STT_CHOICES[:-1])} or {STT_CHOICES[-1]}")
        if self.model is not None and self.stt != "whisper":
            raise ConfigError(f"an stt model is for stt=whisper, not stt={self.stt}")

    @property
    def is_whisper(self) -> bool:
        return self.stt == "whisper"

    def check(self) -> None:
        """What is missing, in one line, before any call (the whisper model's files are read,
        not loaded: a damaged model.bin is found when ``start()`` loads it)."""
        if self.is_whisper:
            check_faster_whisper()
            resolve_model(self.model)
        else:
            check_pocketsphinx()

    def recognizer(self, phrases: tuple[str, ...] = ()) -> ClipRecognizer:
        """A recognizer for this choice, not started (``await start()`` loads it in its worker)."""
        if self.is_whisper:
            return WhisperRecognizer(WhisperSettings(model=str(resolve_model(self.model))))
        return PocketsphinxRecognizer(SttSettings(mode=self.stt, phrases=phrases))
