"""What hangs off a call: recorders, a speaker, a report capture, an SDP pause, an
impairment schedule, analyzers.

A builder (the CLI, the window, a scenario, load) hands extensions to the ``Call`` it
builds; the call attaches them before it starts, asks each for its part of the
summary, and detaches them when it ends. Nothing reaches into a live call to change
it: what an extension needs (sinks, observers of sent audio, SDP edit hooks, events)
it registers in ``attach``, through the call's public methods.
"""

from __future__ import annotations

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
