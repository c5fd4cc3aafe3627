"""What a recognizer heard: text, and each word's time on the caller's clock.

Plain, frozen data so any layer can keep it (the runner's turns, reports, a conversation
model): ``words`` are ``(word, start_ms, end_ms)`` tuples. A transcript that could not be
made is still a Transcript, with ``unavailable`` saying why (the recognizer crashed, the
model failed to load), so a report can show the reason where the text would be.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

SOURCE = "voicedesk-recognizer"  # beside the agent's own text (its TTS text, its transcript events)

Word = tuple[str, float, float]  # (word, start_ms, end_ms)


@dataclass(frozen=True)
class Transcript:
    text: str
    words: tuple[Word, ...] = ()
    recognizer: str = ""  # "whisper tiny.en", "pocketsphinx constrained"
    source: str = SOURCE
    unavailable: str | None = None  # why there is no text

    @classmethod
    def failed(cls, reason: str, recognizer: str = "") -> Transcript:
        return cls(text="", recognizer=recognizer, unavailable=reason)

    @property
    def first_word_ms(self) -> float | None:
        return self.words[0][1] if self.words else None

    def shifted(self, offset_ms: float) -> Transcript:
        """Word times moved from the clip's clock (0 = its first sample) to the call's."""
        return self.retimed(lambda ms: ms + offset_ms)

    def retimed(self, to_call_ms: Callable[[float], float]) -> Transcript:
        """Word times mapped from the clip's clock to the call's by ``to_call_ms`` (a recording
        with gaps maps each time through its own block)."""
        return replace(self, words=tuple((w, to_call_ms(s), to_call_ms(e)) for w, s, e in self.words))

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "words": [[w, round(s, 1), round(e, 1)] for w, s, e in self.words],
            "recognizer": self.recognizer,
            "source": self.source,
            "unavailable": self.unavailable,
        }
