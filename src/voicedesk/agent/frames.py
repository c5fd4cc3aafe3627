"""Typed frames that flow through the agent's pipeline.

Three kinds, as in pipecat:

- **system** frames are handled at once, ahead of anything queued (audio in,
  speech started/stopped, interruption, errors, agent speaking);
- **data** frames are handled in order and are dropped when the caller
  interrupts (transcripts, response text, speech audio out);
- **control** frames are handled in order and survive an interruption
  (start, end, response started/ended).

Every frame carries ``at``, the ``time.monotonic()`` at which it was made, so
observers can time a turn without the processors doing any bookkeeping.
"""

from __future__ import annotations

import enum
import itertools
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

_ids = itertools.count(1)


class FrameKind(enum.Enum):
    SYSTEM = "system"
    DATA = "data"
    CONTROL = "control"


class FrameDirection(enum.Enum):
    DOWNSTREAM = "downstream"
    UPSTREAM = "upstream"


@dataclass(frozen=True, kw_only=True)
class Frame:
    kind: ClassVar[FrameKind]
    id: int = field(default_factory=lambda: next(_ids))
    at: float = field(default_factory=time.monotonic)

    @property
    def name(self) -> str:
        return type(self).__name__


@dataclass(frozen=True, kw_only=True)
class SystemFrame(Frame):
    kind: ClassVar[FrameKind] = FrameKind.SYSTEM


@dataclass(frozen=True, kw_only=True)
class DataFrame(Frame):
    kind: ClassVar[FrameKind] = FrameKind.DATA


@dataclass(frozen=True, kw_only=True)
class ControlFrame(Frame):
    kind: ClassVar[FrameKind] = FrameKind.CONTROL


# system -------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class StartFrame(SystemFrame):
    """First frame of a session; ``at`` is the session's time zero."""


@dataclass(frozen=True, kw_only=True, eq=False)
class AudioInFrame(SystemFrame):
    """20 ms of what the caller sent: mono float32 at ``sample_rate``."""

    samples: np.ndarray
    sample_rate: int = 48_000


@dataclass(frozen=True, kw_only=True)
class SpeechStartedFrame(SystemFrame):
    """The caller started speaking (VAD); ``onset`` is when the speech began, before detection."""

    onset: float


@dataclass(frozen=True, kw_only=True)
class SpeechStoppedFrame(SystemFrame):
    """The caller stopped speaking (VAD, after its hang-over); ``offset`` is when speech ended."""

    offset: float


@dataclass(frozen=True, kw_only=True)
class InterruptionFrame(SystemFrame):
    """The caller barged in: drop queued data frames, stop speaking now."""


@dataclass(frozen=True, kw_only=True)
class AgentStartedSpeakingFrame(SystemFrame):
    """The output transport handed the first samples of a reply to the encoder."""


@dataclass(frozen=True, kw_only=True)
class AgentStoppedSpeakingFrame(SystemFrame):
    """The output ran dry or was flushed (``interrupted``)."""

    interrupted: bool = False


@dataclass(frozen=True, kw_only=True)
class ErrorFrame(SystemFrame):
    """Something failed; ``fatal`` errors end the pipeline, others are reported and the call goes on."""

    message: str
    source: str = ""
    fatal: bool = False


@dataclass(frozen=True, kw_only=True)
class EventFrame(SystemFrame):
    """A free-form event for observers (e.g. a script agent's step)."""

    event: str
    data: dict[str, Any] = field(default_factory=dict)


# data ---------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class PartialTranscriptFrame(DataFrame):
    text: str


@dataclass(frozen=True, kw_only=True)
class FinalTranscriptFrame(DataFrame):
    text: str
    audio_ms: float = 0.0


@dataclass(frozen=True, kw_only=True)
class TextInputFrame(DataFrame):
    """Text the caller typed instead of speaking (RTVI ``send-text``): answered as a final transcript.
    ``msg_id`` is the client's message id, reported back with the text."""

    text: str
    msg_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class ResponseTextFrame(DataFrame):
    """A chunk of the agent's reply (a streamed token run or a whole sentence)."""

    text: str


@dataclass(frozen=True, kw_only=True, eq=False)
class SpeechAudioOutFrame(DataFrame):
    """Audio for the caller: mono float32 at 48 kHz, any length."""

    samples: np.ndarray
    sample_rate: int = 48_000


# control ------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class ResponseStartedFrame(ControlFrame):
    """A reply to ``transcript`` begins; text frames follow."""

    transcript: str = ""


@dataclass(frozen=True, kw_only=True)
class ResponseEndedFrame(ControlFrame):
    """The reply's text is complete (TTS flushes what it buffered)."""


@dataclass(frozen=True, kw_only=True)
class EndFrame(ControlFrame):
    """Last frame: processors finish what they hold and stop."""
