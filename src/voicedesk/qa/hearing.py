"""What the caller heard the agent say: a recognizer over the received audio, during the call.

The seam a simulated caller and repeated runs transcribe through. Today the engine is
pocketsphinx in its worker process (speech/stt.py: it holds the GIL while it decodes, so it
must not run in the media process), or Whisper (speech/whisper.py), each behind the same
``Recognizer`` protocol. One worker serves
every run of a repeat (started once: a decoder takes ~1 s to build), one utterance at a
time: either a whole clip (``transcribe``) or a reply streamed in while it plays
(``stream``), so that little is left to decode when the reply ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import numpy as np

from voicedesk.media.pcm import SAMPLE_RATE

if TYPE_CHECKING:
    from voicedesk.qa.scenario import Scenario
    from voicedesk.speech.stt import Recognizer

logger = logging.getLogger(__name__)


class HearingStream(Protocol):
    """One reply fed to the recognizer as it arrives; ``finish`` gives its words, ``cancel`` drops it.
    Either ends the stream and frees the recognizer."""

    async def feed(self, audio: np.ndarray) -> None: ...

    async def finish(self) -> str: ...

    async def cancel(self) -> None: ...


class Hearing(Protocol):
    """Turns received audio (float32, 48 kHz, mono) into text."""

    name: str

    async def start(self) -> None: ...  # load the engine now (idempotent), not in the first turn

    async def transcribe(self, audio: np.ndarray) -> str: ...

    async def stream(self) -> HearingStream | None: ...  # None: busy (transcribe the reply afterwards)

    async def close(self) -> None: ...


class _RecognizerStream:
    """A live utterance on a ``Recognizer`` that holds the hearing's lock until it ends."""

    def __init__(self, recognizer: Recognizer, release: Callable[[], None]) -> None:
        self._recognizer = recognizer
        self._release: Callable[[], None] | None = release

    async def feed(self, audio: np.ndarray) -> None:
        if self._release is not None and audio.size:
            await self._recognizer.feed(audio.astype(np.float32))

    async def finish(self) -> str:
        if self._release is None:
            return ""
        try:
            return str(await self._recognizer.finish())
        finally:
            self._end()

    async def cancel(self) -> None:
        """End the utterance unheard (the recognizer must not carry it into the next one)."""
        if self._release is None:
            return
        try:
            await self._recognizer.finish()
        except Exception as exc:  # the recognizer is freed all the same
            logger.debug("dropping a streamed reply failed: %s", exc)
        finally:
            self._end()

    def _end(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


class RecognizerHearing:
    """Any ``speech.stt.Recognizer`` (begin/feed/finish), started on first use, shared by runs."""

    def __init__(self, name: str, factory: Callable[[], Recognizer]) -> None:
        self.name = name
        self._factory = factory
        self._recognizer: Recognizer | None = None
        self._lock = asyncio.Lock()  # one utterance at a time: begin/feed/finish belong together

    async def start(self) -> None:
        async with self._lock:
            await self._started()

    async def _started(self) -> Recognizer:
        if self._recognizer is None:
            recognizer = self._factory()
            await recognizer.start()
            self._recognizer = recognizer
        return self._recognizer

    async def transcribe(self, audio: np.ndarray) -> str:
        if audio.size == 0:
            return ""
        async with self._lock:
            recognizer = await self._started()
            await recognizer.begin(SAMPLE_RATE)
            await recognizer.feed(audio.astype(np.float32))
            return str(await recognizer.finish())

    async def stream(self) -> HearingStream | None:
        """A live utterance when the recognizer is free; None while another run's reply holds it
        (that run's words come first; this one is transcribed whole when it ends)."""
        if self._lock.locked():
            return None
        await self._lock.acquire()
        try:
            recognizer = await self._started()
            await recognizer.begin(SAMPLE_RATE)
        except BaseException:
            self._lock.release()
            raise
        return _RecognizerStream(recognizer, self._lock.release)

    async def close(self) -> None:
        recognizer, self._recognizer = self._recognizer, None
        if recognizer is not None:
            await recognizer.close()


def reply_phrases(scenario: Scenario, target: str) -> tuple[str, ...]:
    """What a constrained recognizer should know to hear a scenario's agent: the scenario's own
    words and, for the embedded agents, their replies (and a small everyday vocabulary)."""
    from voicedesk.qa.transcripts import recognizer_phrases

    return recognizer_phrases(scenario.phrases(), target)


def hearing_for(mode: str, phrases: tuple[str, ...], model: str | None = None) -> Hearing:
    """The recognizer of ``stt`` mode ``mode`` (speech/recognizers.py), checked now: a missing
    engine or model is one line before the call, not mid-conversation. Whisper takes no phrase
    list (open vocabulary) and the scenario's stt_model if it names one."""
    from voicedesk.errors import ConfigError
    from voicedesk.speech.recognizers import STT_CHOICES, SttChoice

    if mode not in STT_CHOICES:
        raise ConfigError(f"no recognizer {mode!r}: expected one of {', '.join(STT_CHOICES)}")
    choice = SttChoice(mode, model if mode == "whisper" else None)
    choice.check()
    if choice.is_whisper:
        from voicedesk.speech.whisper import model_label, resolve_model

        return RecognizerHearing(f"whisper ({model_label(resolve_model(model))})", choice.recognizer)
    from voicedesk.speech.stt import SMALL_VOCABULARY

    vocabulary = tuple(dict.fromkeys((*SMALL_VOCABULARY, *phrases)))
    return RecognizerHearing(f"pocketsphinx ({mode})", lambda: choice.recognizer(vocabulary))


class HearingPool:
    """Recognizers shared by the runs of a repeat, one per (mode, vocabulary); closed at the end."""

    def __init__(self) -> None:
        self._hearings: dict[tuple[str, tuple[str, ...], str | None], Hearing] = {}

    def get(self, mode: str, phrases: tuple[str, ...], model: str | None = None) -> Hearing:
        key = (mode, tuple(sorted(set(phrases))) if mode != "whisper" else (), model)
        if key not in self._hearings:
            self._hearings[key] = hearing_for(mode, key[1], model)
        return self._hearings[key]

    async def close(self) -> None:
        hearings, self._hearings = list(self._hearings.values()), {}
        for hearing in hearings:
            try:
                await hearing.close()
            except Exception as exc:  # closing one recognizer must not keep the others open
                logger.warning("closing the recognizer %s failed: %s", hearing.name, exc)
