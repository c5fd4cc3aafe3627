"""What crosses between the window and its engine process (pickled over one duplex pipe).

Window → engine: ``Command`` (a request; each gets one ``Reply`` with the same id) and
``EditReply`` (the user's edit of a paused SDP description). Engine → window: ``Reply``,
``EventMessage`` (each core ``CallEvent`` as the ``Call`` emitted it), ``Mirror`` (what the
window shows of the call but no event carries: figures, counters, the extensions' views;
sent before each state change and about twice a second) and ``EditRequest`` (the set-up
reached an SDP edit hook the window's SDP tab holds). Audio does not cross here: it goes
through the shared-memory rings (engine/rings.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from voicedesk.engine.rings import RingNames
from voicedesk.rtc.extension import ExtensionRecipe
from voicedesk.rtc.spec import CallSpec


@dataclass(frozen=True)
class OpenCall:
    """Build the call (``Call.from_spec``) with these extensions; audio into these rings.
    ``edit_offer``/``edit_answer``: the window holds an SDP edit hook (asked with ``EditRequest``)."""

    spec: CallSpec  # without its edit hooks (functions do not cross)
    recipes: tuple[ExtensionRecipe, ...] = ()
    rings: RingNames | None = None
    edit_offer: bool = False
    edit_answer: bool = False


@dataclass(frozen=True)
class Command:
    id: int
    name: str  # open, start, hangup, invoke, set, shutdown
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Reply:
    id: int
    value: Any = None
    error: str | None = None  # one line for the user (a VoiceDeskError's message)
    error_kind: str | None = None  # the VoiceDeskError subclass name, to raise the same kind


@dataclass(frozen=True)
class EventMessage:
    event: Any  # voicedesk.rtc.call.CallEvent
    sent_at: float = 0.0  # the engine's time.monotonic() as it sent it (one clock for both processes on Linux)


@dataclass(frozen=True)
class Mirror:
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EditRequest:
    id: int
    kind: str  # "offer" or "answer"
    sdp: str


@dataclass(frozen=True)
class EditReply:
    id: int
    sdp: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class EngineReady:
    pid: int
    media_cpu: int | None = None  # the CPU the engine's loop has to itself (voicedesk/cores.py)


@dataclass(frozen=True)
class LogLine:
    """A log record of the engine's, handed to the window's logger of the same name."""

    name: str
    level: int
    text: str
    created: float
