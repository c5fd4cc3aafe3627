"""What hangs off a call: recorders, a speaker, a report capture, an SDP pause, an
impairment schedule, analyzers.

A builder (the CLI, the window, a scenario, load) hands extensions to the ``Call`` it
builds; the call attaches them before it starts, asks each for its part of the
summary, and detaches them when it ends. Nothing reaches into a live call to change
it: what an extension needs (sinks, observers of sent audio, SDP edit hooks, events)
it registers in ``attach``, through the call's public methods.

A builder that runs the call in another process (the window's engine process,
voicedesk/engine/) cannot hand it objects: it hands ``ExtensionRecipe``s, plain data the
process that runs the call turns into extensions. What the builder then shows of an
extension it reads from its ``view()`` (plain, picklable data), not from the object.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from voicedesk.rtc.call import Call


class CallExtension:
    """Base of every extension; each method is optional."""

    async def prepare(self) -> None:
        """Before the call dials (``Call.start``): load what the call needs ready (a recognizer's
        model); a ``VoiceDeskError`` here fails the call with its message, before any signaling."""

    def attach(self, call: Call) -> None:
        """Register with ``call`` before it starts (sinks, observers, listeners, hooks)."""

    def summary(self) -> dict[str, Any]:
        """Keys this extension adds to the call's summary (after the call's own)."""
        return {}

    async def detach(self) -> None:
        """The call has ended: stop what this extension started, close what it opened."""

    def view(self) -> Any:
        """What a builder in another process shows of this extension (picklable), or None."""
        return None


@dataclass(frozen=True)
class ExtensionRecipe:
    """An extension as plain data: ``factory`` ("module:callable") called with ``options``.
    ``key`` names it for whoever reads its ``view()`` later (a tab of the window)."""

    key: str
    factory: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def build(self) -> CallExtension:
        module_name, _, name = self.factory.partition(":")
        made = getattr(importlib.import_module(module_name), name)(**dict(self.options))
        if not isinstance(made, CallExtension):
            raise TypeError(f"{self.factory} made a {type(made).__name__}, not a CallExtension")
        return made
