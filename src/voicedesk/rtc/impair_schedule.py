"""Impairment that changes during a call: ``5:loss=20%`` (five seconds after connecting,
lose a fifth of the packets each way). Used by ``voicedesk call --impair-at``, scenarios
and anything else that builds a ``CallSpec`` with ``impair_schedule``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from voicedesk.errors import ConfigError
from voicedesk.limits import problem
from voicedesk.rtc.extension import CallExtension
from voicedesk.rtc.impair import ImpairmentSpec
from voicedesk.tasks import TaskOwner

if TYPE_CHECKING:
    from voicedesk.rtc.call import Call, CallEvent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScheduledImpairment:
    at_s: float  # seconds after the call connected
    spec: str  # applied on top of the figures in force, as ImpairmentRelay.update takes it

    @classmethod
    def parse(cls, value: str) -> ScheduledImpairment:
        """``SECONDS:SPEC``; a ``ConfigError`` in the words of ``--impair-at`` otherwise."""
        at, sep, spec = value.partition(":")
        try:
            seconds = float(at)
        except ValueError:
            seconds = -1.0
        if not sep or problem(seconds, minimum=0) is not None:
            raise ConfigError(f"bad --impair-at {value!r}: use SECONDS:SPEC, e.g. 5:loss=20%")
        ImpairmentSpec.parse(spec)  # reject a bad figure before the call, not in the middle of it
        return cls(seconds, spec)


def parse_schedule(values: Iterable[str]) -> tuple[ScheduledImpairment, ...]:
    """Every ``SECONDS:SPEC`` of ``values``, earliest first."""
    return tuple(sorted((ScheduledImpairment.parse(v) for v in values), key=lambda s: s.at_s))


class ImpairmentSchedule(CallExtension):
    """Applies each scheduled change at its time after the call connects; the relay
    announces each change as an ``ImpairmentChanged`` event (graphs mark it, the CLI prints it)."""

    def __init__(self, steps: Iterable[ScheduledImpairment]) -> None:
        self.steps = tuple(steps)
        self._tasks = TaskOwner()
        self._call: Call | None = None

    def attach(self, call: Call) -> None:
        self._call = call
        call.add_listener(self._on_event)

    def _on_event(self, event: CallEvent) -> None:
        from voicedesk.rtc.call import CallState, CallStateChanged

        if isinstance(event, CallStateChanged) and event.state == CallState.CONNECTED:
            for step in self.steps:
                self._tasks.spawn(self._apply(step), f"impair-at {step.at_s:g}s")

    async def _apply(self, step: ScheduledImpairment) -> None:
        await asyncio.sleep(step.at_s)
        if self._call is not None and self._call.impairment_now() is not None and not self._call.state.is_final:
            self._call.update_impairment(step.spec)

    async def detach(self) -> None:
        await self._tasks.cancel_all()
