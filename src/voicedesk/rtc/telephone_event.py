"""RFC 4733 telephone-events: the 4-byte payload and reading a stream of them back.

A keypad press sent "out of band" is not audio but RTP packets of a second payload type
(``telephone-event/48000`` beside Opus, ``/8000`` beside G.711) on the audio stream's own
SSRC and sequence numbers. Every packet of one event carries the event's start timestamp
and the duration so far; the last one has the E bit and is sent three times. Browsers send
these from ``RTCDTMFSender`` (rtc/dtmf_sender.py is VoiceDesk's); this module is the wire
format both ends share and the receiver's side: ``TelephoneEventDecoder`` turns the packets
one receiver gets into one ``DtmfReceived`` per key press, whatever was lost or repeated.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MIME_TYPE = "audio/telephone-event"
# RFC 4733 section 3.2: 0-9, *, #, A-D are events 0-15
TONES = "0123456789*#ABCD"
EVENT_CODES = {tone: code for code, tone in enumerate(TONES)}
MAX_DURATION = 0xFFFF  # the duration field is 16 bits: longer events go in segments (section 2.5.2.3)
END_REPEATS = 3  # section 2.5.1.4: the final packet is sent three times
VOLUME = 10  # -10 dBm0, what Chrome sends (RFC 4733 leaves it to the sender)


@dataclass(frozen=True)
class EventPayload:
    """One telephone-event payload: ``event`` (0-15 for keys), the E bit, ``volume``
    (-dBm0, 0-63) and ``duration`` in RTP timestamp units since the event began."""

    event: int
    end: bool
    volume: int
    duration: int

    def pack(self) -> bytes:
        return struct.pack("!BBH", self.event, (0x80 if self.end else 0) | (self.volume & 0x3F), self.duration)

    @classmethod
    def parse(cls, data: bytes) -> EventPayload:
        if len(data) < 4:
            raise ValueError(f"a telephone-event payload has 4 bytes, this one {len(data)}")
        event, flags, duration = struct.unpack("!BBH", data[:4])
        return cls(event=event, end=bool(flags & 0x80), volume=flags & 0x3F, duration=duration)

    @property
    def tone(self) -> str:
        """The key (``"5"``, ``"#"``), or ``"event N"`` for events that are not keys (fax tones …)."""
        return TONES[self.event] if self.event < len(TONES) else f"event {self.event}"


@dataclass(frozen=True)
class DtmfReceived:
    """One key press received as telephone-events. ``ended``: its end packet arrived (False
    when all three were lost and the next event, or the call's end, closed it).
    ``t_ms``: when its first packet arrived, on the listener's clock."""

    tone: str
    duration_ms: float
    volume: int
    ended: bool
    t_ms: float

    def to_json(self) -> dict[str, Any]:
        return {
            "tone": self.tone,
            "duration_ms": round(self.duration_ms, 1),
            "volume_dbm0": -self.volume,
            "ended": self.ended,
            "t_ms": round(self.t_ms, 1),
        }


class TelephoneEventDecoder:
    """The packets of one receiver (one SSRC's events) -> one ``DtmfReceived`` per event.

    An event is reported once, at its first end packet (the repeats are ignored), or, when
    every end packet was lost, as soon as a packet of another event (another timestamp)
    arrives or ``finish()`` is called. A long event sent in segments (a new timestamp
    ``MAX_DURATION`` after the last, same key, no end yet) stays one event."""

    def __init__(self, on_event: Callable[[DtmfReceived], None], now_ms: Callable[[], float] | None = None) -> None:
        self._on_event = on_event
        self._now_ms = now_ms or (lambda: time.monotonic() * 1000.0)
        self.events: list[DtmfReceived] = []
        self.packets = 0
        self.bad_packets = 0
        self._timestamp: int | None = None  # the current event's (segment's) timestamp
        self._current: EventPayload | None = None
        self._earlier = 0  # duration of the current event's earlier segments
        self._clock = 8000
        self._started_ms = 0.0
        self._reported: set[int] = set()  # timestamps of events already reported (late end repeats)

    def add(self, timestamp: int, payload: bytes, clock_rate: int) -> None:
        """One received telephone-event packet (its RTP timestamp, payload and the payload
        type's clock rate)."""
        try:
            event = EventPayload.parse(payload)
        except ValueError:
            self.bad_packets += 1
            return
        self.packets += 1
        if timestamp in self._reported:
            return  # a repeat of an end already reported
        if timestamp != self._timestamp:
            segment = (
                self._current is not None
                and not self._current.end
                and self._current.event == event.event
                and self._timestamp is not None
                and (timestamp - self._timestamp) % 2**32 == MAX_DURATION
            )
            if segment:  # the last segment was full, whether or not its last packet came
                self._earlier += MAX_DURATION
            else:
                self._close(ended=False)
                self._earlier = 0
                self._started_ms = self._now_ms()
            self._timestamp = timestamp
            self._clock = clock_rate
        if self._current is None or event.duration >= self._current.duration or event.end:
            self._current = event
        if event.end:
            self._reported.add(timestamp)
            if len(self._reported) > 64:  # only recent timestamps can repeat
                self._reported = {timestamp}
            self._close(ended=True)

    def finish(self) -> None:
        """The stream ended: an event whose end never came is reported as it stood."""
        self._close(ended=False)

    def _close(self, ended: bool) -> None:
        event, self._current = self._current, None
        if event is None:
            return
        self._timestamp = None if not ended else self._timestamp
        received = DtmfReceived(
            tone=event.tone,
            duration_ms=(self._earlier + event.duration) * 1000.0 / self._clock,
            volume=event.volume,
            ended=ended,
            t_ms=self._started_ms,
        )
        self._earlier = 0
        self.events.append(received)
        self._on_event(received)

    @property
    def tones(self) -> str:
        """Every key received so far, in order (``"123#"``)."""
        return "".join(e.tone for e in self.events if len(e.tone) == 1)
