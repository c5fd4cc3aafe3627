"""What every agent event protocol provides to the channel that carries it (channel.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from voicedesk.rtc.events.model import ConversationEvent

Message = Mapping[str, Any]


class EventProtocol:
    """One agent event protocol: the data channel it rides on and how its messages read.

    ``parse`` turns one decoded JSON object into conversation events; it returns None for
    a message type the protocol does not define (the channel shows it raw and counts it)
    and may raise on a malformed one (the channel counts that too). ``hello`` is what the
    caller sends once the channel opens (RTVI ``client-ready``, OpenAI ``session.update``);
    ``ready_type`` the message that says the agent is ready, if the protocol has one.
    """

    name: str = ""
    label: str = ""  # the data channel's label
    ready_type: str | None = None
    keepalive: str | None = None  # a text sent every second once open (pipecat's clients ping)
    arrival_key: str | None = None  # a key the channel adds to each message: when it arrived (ms)

    def parse(self, message: Message, t_ms: float) -> list[ConversationEvent] | None:
        raise NotImplementedError

    def hello(self) -> list[dict[str, Any]]:
        return []

    def text_messages(self, text: str) -> list[dict[str, Any]]:
        """The messages that give the agent ``text`` as if the caller had said it."""
        raise ValueError(f"the {self.name} events protocol cannot send text to the agent")

    def client_message(self, kind: str, data: Any = None) -> dict[str, Any]:
        """An application message of the caller's own (RTVI ``client-message``)."""
        raise ValueError(f"the {self.name} events protocol has no client messages")


def text(value: Any) -> str:
    """A field that should be a string, as one (None and other types: empty)."""
    return value if isinstance(value, str) else ""


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
