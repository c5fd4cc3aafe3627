"""The caller's end of the agent events channel: a data channel named ``voicedesk``.

VoiceDesk's own agents (``voice``, ``parrot``, ``script``) write JSON events to it:
live events (speech started/stopped, transcripts, response, audio out, barge-in,
errors) and one ``turn`` report per caller turn with its timings. The format is
documented in the README ("Turn events"). Any agent may implement it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCDataChannel, RTCPeerConnection

from voicedesk.rtc.signaling.log import parse_json

logger = logging.getLogger(__name__)

CHANNEL_LABEL = "voicedesk"
MAX_EVENTS = 2000


@dataclass(frozen=True)
class AgentEventReceived:
    """One event from the agent; ``t_ms`` is when it arrived, on the call's time axis."""

    event: dict[str, Any] = field(hash=False)
    t_ms: float

    @property
    def type(self) -> str:
        return str(self.event.get("type", ""))


class AgentEventsChannel:
    """Opens the channel on a peer connection (before the offer) and collects what arrives."""

    def __init__(self, emit: Callable[[AgentEventReceived], None], now_ms: Callable[[], float]) -> None:
        self._emit = emit
        self._now_ms = now_ms
        self.channel: RTCDataChannel | None = None
        self.events: list[dict[str, Any]] = []
        self.bad_messages = 0

    def open(self, pc: RTCPeerConnection) -> None:
        self.channel = pc.createDataChannel(CHANNEL_LABEL)
        self.channel.on("message", self._on_message)

    @property
    def turns(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == "turn"]

    def _on_message(self, message: str | bytes) -> None:
        try:
            event = parse_json(message)  # a message nested 30,000 deep is a bad message, not a crash
        except (ValueError, UnicodeDecodeError):
            event = None
        if not isinstance(event, dict):
            self.bad_messages += 1
            logger.debug("agent events channel: not a JSON object: %r", message[:80])
            return
        event["received_ms"] = round(self._now_ms(), 1)
        if len(self.events) < MAX_EVENTS:
            self.events.append(event)
        self._emit(AgentEventReceived(event, event["received_ms"]))
