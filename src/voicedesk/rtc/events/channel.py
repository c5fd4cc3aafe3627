"""The caller's end of an agent events channel: one data channel, one protocol.

Opened on the peer connection before the offer (so the offer carries the
m=application section). Each message is decoded here, once: oversized (> 64 KiB),
not JSON, not an object, no ``type``, or a type the protocol does not know → counted in
``dropped`` (the summary's ``agent_events_dropped``) and logged in one line; never an
exception. What decodes goes out on the call's event stream twice: as
``AgentEventReceived`` (the message as it came, for raw logs) and as the conversation
events the protocol makes of it (model.py), which ``conversation`` folds into turns.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCDataChannel, RTCPeerConnection

from voicedesk.rtc.events.conversation import Conversation
from voicedesk.rtc.events.model import (
    AgentLeft,
    AgentReady,
    ConversationEvent,
    EventsNotice,
    RawEventReceived,
    caller_sent,
    describe,
)
from voicedesk.rtc.events.protocol import EventProtocol
from voicedesk.rtc.signaling.log import parse_json
from voicedesk.tasks import TaskOwner

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024
MAX_EVENTS = 2000  # raw messages kept (``events``); the conversation keeps its own
READY_TIMEOUT = 10.0
LOGGED_DROPS = 20  # one line each for the first ones; the count goes on


@dataclass(frozen=True)
class AgentEventReceived:
    """One message from the agent as it came; ``t_ms`` is when it arrived, on the call's
    time axis. ``protocol``: which events protocol the channel speaks."""

    event: dict[str, Any] = field(hash=False)
    t_ms: float
    protocol: str = "voicedesk"

    @property
    def type(self) -> str:
        return str(self.event.get("type", ""))


Emit = Callable[[Any], None]


class AgentEventsChannel:
    """An events protocol on a data channel of one call (see the module doc)."""

    def __init__(
        self,
        protocol: EventProtocol,
        emit: Emit,
        now_ms: Callable[[], float],
        *,
        ready_timeout: float = READY_TIMEOUT,
        conversation: Conversation | None = None,
        on_agent_left: Callable[[str], None] | None = None,
    ) -> None:
        self.protocol = protocol
        self._emit = emit
        self._now_ms = now_ms
        self.ready_timeout = ready_timeout
        self._on_agent_left = on_agent_left  # the call ends as hung up by the peer
        self.channel: RTCDataChannel | None = None
        self.conversation = conversation if conversation is not None else Conversation()
        self.conversation.protocol = protocol.name
        self.events: list[dict[str, Any]] = []  # the messages as they came (the first MAX_EVENTS)
        self.dropped = 0
        self.sent: list[dict[str, Any]] = []  # what the caller sent (the first MAX_EVENTS), keep-alives aside
        self.ready_at_ms: float | None = None  # when the agent said it was ready (bot-ready)
        self._queued: list[str] = []  # sent before the channel opened
        # sent once the agent is ready (--send-text): the messages, and the words typed
        self._after_ready: list[tuple[list[dict[str, Any]], str | None]] = []
        self._ready = asyncio.Event()
        self._tasks = TaskOwner(f"{protocol.name} events", logger=logger, failed="%s failed")

    # compatibility with the voicedesk channel's reader of before ----------------------
    @property
    def bad_messages(self) -> int:
        return self.dropped

    @property
    def turns(self) -> list[dict[str, Any]]:
        """The summary's ``turns``: from the conversation (a voicedesk agent's own reports)."""
        return self.conversation.summary_turns()

    # lifecycle --------------------------------------------------------------------
    def open(self, pc: RTCPeerConnection) -> None:
        """Create the data channel (before the offer, so that it is negotiated)."""
        self.channel = pc.createDataChannel(self.protocol.label)
        self.channel.on("message", self._on_message)
        self.channel.on("open", self._on_open)

    def _on_open(self) -> None:
        for message in self.protocol.hello():
            self.send(message)
        for text in self._queued:
            self._send_text(text)
        self._queued.clear()
        if self.protocol.keepalive:
            self._tasks.spawn(self._keepalive(), "keep-alive")
        if self.protocol.ready_type:
            self._tasks.spawn(self._wait_ready(), "ready watch")
        else:
            self._set_ready()

    async def close(self) -> None:
        await self._tasks.cancel_all()

    def peer_refused(self, why: str) -> None:
        """The answer has no data channel: nothing will come on it (say so once)."""
        self._notice(f"the peer did not take the {self.protocol.label!r} data channel ({why}): no agent events")

    async def _keepalive(self) -> None:
        # pipecat's clients ping every second; the bot takes one that stops for gone
        while self.channel is not None and self.channel.readyState == "open":
            self._send_text(f"{self.protocol.keepalive}: {int(time.time() * 1000)}")
            await asyncio.sleep(1.0)

    async def _wait_ready(self) -> None:
        try:
            await asyncio.wait_for(self._ready.wait(), self.ready_timeout)
        except TimeoutError:
            self._notice(
                f"no {self.protocol.ready_type} from the agent within {self.ready_timeout:g} s of the "
                f"{self.protocol.label!r} channel opening; the call goes on"
            )
            self._flush_after_ready()

    def _set_ready(self) -> None:
        if not self._ready.is_set():
            self._ready.set()
            self._flush_after_ready()

    def _flush_after_ready(self) -> None:
        pending, self._after_ready = self._after_ready, []
        for messages, typed in pending:
            self._deliver(messages, typed)

    def _deliver(self, messages: list[dict[str, Any]], typed: str | None) -> None:
        for message in messages:
            self.send(message)
        if typed is not None:  # the caller's words join the conversation when they go out
            self._publish(caller_sent(typed, self._now_ms(), "send-text"))

    def _notice(self, text: str) -> None:
        logger.warning("%s", text)
        self._publish(
            EventsNotice(t_ms=round(self._now_ms(), 1), protocol=self.protocol.name, type="notice", text=text)
        )

    # sending ----------------------------------------------------------------------
    def send(self, message: dict[str, Any]) -> None:
        """Send one JSON message (held until the channel opens)."""
        if len(self.sent) < MAX_EVENTS:
            self.sent.append(message)
        self._send_text(json.dumps(message))

    def _send_text(self, text: str) -> None:
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(text)
        else:
            self._queued.append(text)

    def send_text(self, text: str, *, when_ready: bool = False) -> None:
        """Give the agent ``text`` as if the caller had said it (RTVI ``send-text``, OpenAI
        ``conversation.item.create`` + ``response.create``); ``ValueError`` for a protocol
        that takes no text. ``when_ready``: hold it until the agent said it is ready."""
        self._send_or_hold(self.protocol.text_messages(text), text, when_ready)

    def send_client_message(self, kind: str, data: Any = None, *, when_ready: bool = False) -> None:
        """An application message (RTVI ``client-message`` ``{"t": kind, "d": data}``)."""
        self._send_or_hold([self.protocol.client_message(kind, data)], None, when_ready)

    def _send_or_hold(self, messages: list[dict[str, Any]], typed: str | None, when_ready: bool) -> None:
        if when_ready and not self._ready.is_set():
            self._after_ready.append((messages, typed))
        else:
            self._deliver(messages, typed)

    # receiving --------------------------------------------------------------------
    def _on_message(self, message: str | bytes) -> None:
        t_ms = round(self._now_ms(), 1)
        if isinstance(message, str) and self.protocol.keepalive and message.startswith(self.protocol.keepalive):
            return
        # the limit is on bytes: a text message can be four times its length in UTF-8
        size = len(message) if isinstance(message, bytes) else _utf8_size(message)
        if size > MAX_MESSAGE_BYTES:
            self._drop(f"{size} bytes, over the {MAX_MESSAGE_BYTES // 1024} KiB limit", message)
            return
        try:
            event = parse_json(message)  # a message nested 30,000 deep is a bad message, not a crash
        except (ValueError, UnicodeDecodeError):
            self._drop("not JSON", message)
            return
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            self._drop("not a JSON object with a type", message)
            return
        if self.protocol.arrival_key is not None:
            event[self.protocol.arrival_key] = t_ms
        if len(self.events) < MAX_EVENTS:
            self.events.append(event)
        self._emit(AgentEventReceived(event, t_ms, self.protocol.name))
        try:
            parsed = self.protocol.parse(event, t_ms)
        except Exception as exc:  # a field of the wrong type: the message is bad, the call goes on
            self._drop(f"{event['type']!r} unreadable ({type(exc).__name__}: {exc})", message)
            return
        if parsed is None:
            self._drop(f"unknown type {event['type']!r}", message)
            parsed = [
                RawEventReceived(t_ms=t_ms, protocol=self.protocol.name, type=event["type"], data=event, known=False)
            ]
        for item in parsed:
            if isinstance(item, AgentReady) and item.type == self.protocol.ready_type:
                self.ready_at_ms = item.t_ms
                self._set_ready()
            self._publish(item)
            if isinstance(item, AgentLeft) and self._on_agent_left is not None:
                self._on_agent_left(item.reason)

    def _publish(self, event: ConversationEvent) -> None:
        # -v prints each as it comes; messages with no place in the turns only with -vv
        level = logging.DEBUG if isinstance(event, RawEventReceived) else logging.INFO
        if logger.isEnabledFor(level):
            logger.log(level, "[%7.0f ms] %s", event.t_ms, describe(event))
        self.conversation.add(event)
        self._emit(event)

    def _drop(self, why: str, message: str | bytes) -> None:
        self.dropped += 1
        if self.dropped <= LOGGED_DROPS:
            logger.info("%s events: message dropped: %s: %r", self.protocol.name, why, message[:80])
        elif self.dropped == LOGGED_DROPS + 1:
            logger.info("%s events: more messages dropped; counting them only", self.protocol.name)


def _utf8_size(text: str) -> int:
    """Bytes of ``text`` in UTF-8; a text already longer than the limit is not encoded (at least as many bytes)."""
    return len(text) if len(text) > MAX_MESSAGE_BYTES else len(text.encode("utf-8", "surrogatepass"))
