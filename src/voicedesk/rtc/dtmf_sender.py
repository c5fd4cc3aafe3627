"""RTCDTMFSender: keypad tones as RFC 4733 telephone-events, as a browser sends them.

W3C WebRTC section 7 names the API (``insertDTMF(tones, duration=100, interToneGap=70)``,
``toneBuffer``, ``canInsertDTMF``, ``tonechange``); what goes on the wire follows
Chrome's audio sender (webrtc ``RTPSenderAudio``), which most agents are tested against:

- an event starts at an audio frame; that frame and every frame until the event ends are
  not sent (the audio pauses, as in Chrome: "a source MAY send events and coded audio
  packets for the same time but we don't support it");
- the first frame of an event is skipped (its duration would be 0), the next carries the
  marker bit; every packet of the event has the start timestamp and the duration so far,
  one packet per packetization interval (20 ms);
- once the duration reaches what was asked, the end packet (E bit) goes three times
  back to back, each with a sequence number of its own; the audio resumes after it;
- the next tone starts ``interToneGap`` after the end; ``,`` waits 2 s (W3C);
- event packets use the telephone-event payload type whose clock matches the audio
  codec's (``telephone-event/48000`` beside Opus), volume 10 (-10 dBm0).

aiortc 1.16 has no DTMF sender, and its ``RTCRtpSender`` keeps its sequence numbers in a
local variable of its send loop. So the events are made from the audio packets the sender
is sending anyway: ``aiortc_patches.rewrite_sent_rtp`` hands this object each of them
(serialized, before SRTP) and sends what ``_rewrite`` returns instead, from the first
``insertDTMF`` on (a call that never presses a key sends its audio untouched, with no
per-packet hook; an idle sender only renumbers). Sequencing by those
packets keeps the events on the audio clock, on the same SSRC and in the same sequence
space, with no timer of its own; sequence numbers after an event are shifted by the
packets it added or skipped, so the receiver sees no hole.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from voicedesk.errors import VoiceDeskError
from voicedesk.media.dtmf import validate_digits
from voicedesk.rtc import aiortc_patches
from voicedesk.rtc.telephone_event import END_REPEATS, EVENT_CODES, MAX_DURATION, MIME_TYPE, VOLUME, EventPayload

logger = logging.getLogger(__name__)

# W3C insertDTMF: duration is clamped to 40-6000 ms, interToneGap to 30-6000 ms; "," is 2 s
MIN_DURATION_MS, MAX_DURATION_MS = 40.0, 6000.0
MIN_GAP_MS, MAX_GAP_MS = 30.0, 6000.0
COMMA_MS = 2000.0
DEFAULT_DURATION_MS, DEFAULT_GAP_MS = 100.0, 70.0  # insertDTMF's defaults


@dataclass(frozen=True)
class ToneChanged:
    """W3C ``RTCDTMFToneChangeEvent``: ``tone`` started playing ("" once the buffer has run
    out; "," at a pause). ``t_ms`` is on the owner's clock (the call's)."""

    tone: str
    t_ms: float


def check_tones(tones: str) -> str:
    """Upper-cased tones without spaces ("" clears the buffer, as in W3C), or ``ConfigError``
    naming the first character that is not a key (W3C raises InvalidCharacterError there)."""
    return validate_digits(tones) if tones.strip() else ""


def telephone_event_payload_type(codecs: list[Any]) -> tuple[int, int] | None:
    """(payload type, clock rate) of the negotiated telephone-event that goes with the send
    codec (``codecs[0]``), as Chrome picks it; None when the answer has none at that clock."""
    if not codecs:
        return None
    clock = codecs[0].clockRate
    for codec in codecs:
        if str(codec.mimeType).lower() == MIME_TYPE and codec.clockRate == clock:
            return int(codec.payloadType), int(clock)
    return None


class RTCDTMFSender:
    """The DTMF sender of one audio ``RTCRtpSender`` (W3C ``sender.dtmf``).

    Made by ``RTCDTMFSender.attach(sender, codecs)`` once the sender is sending; ``codecs``
    is what the answer negotiated (aiortc's ``transceiver._codecs``). ``canInsertDTMF`` is
    False, and ``insertDTMF`` raises, when the answer has no matching telephone-event."""

    def __init__(self, payload_type: int | None, clock_rate: int, now_ms: Callable[[], float]) -> None:
        self.payload_type = payload_type
        self.clock_rate = clock_rate
        self._now_ms = now_ms
        self._listeners: list[Callable[[ToneChanged], None]] = []
        self.toneBuffer = ""
        self.duration_ms = 100.0
        self.gap_ms = 70.0
        self.sent = ""  # every tone whose end went out, in order
        self.packets = 0  # event packets sent (end repeats included)
        # the sequencer (see _rewrite)
        self._state = "idle"  # idle | tone | gap
        self._tone = ""
        self._start = 0  # the current segment's RTP timestamp
        self._left = 0  # samples of the tone still to cover from _start
        self._marked = False
        self._until = 0  # RTP timestamp the gap (or a comma) ends at
        self._seq_shift = 0  # event packets added minus audio packets dropped so far
        self._playing = False
        self._sender_to_hook: Any = None  # the RTCRtpSender whose packets _rewrite takes from the first keys on

    @classmethod
    def attach(cls, sender: Any, codecs: list[Any], now_ms: Callable[[], float]) -> RTCDTMFSender:
        found = telephone_event_payload_type(codecs)
        pt, clock = found if found is not None else (None, int(codecs[0].clockRate) if codecs else 48000)
        dtmf = cls(pt, clock, now_ms)
        if pt is not None:
            if aiortc_patches.telephone_events_applied():
                dtmf._sender_to_hook = sender  # hooked by the first insertDTMF: until then no per-packet work
            else:
                dtmf.payload_type = None  # the patch is off: nothing can send events
        return dtmf

    @property
    def canInsertDTMF(self) -> bool:
        return self.payload_type is not None

    def add_listener(self, listener: Callable[[ToneChanged], None]) -> None:
        """W3C ``ontonechange``: called on the loop as each tone starts, and with "" at the end."""
        self._listeners.append(listener)

    def insertDTMF(
        self, tones: str, duration: float = DEFAULT_DURATION_MS, interToneGap: float = DEFAULT_GAP_MS
    ) -> None:
        """Replace the tones still to send with ``tones`` (W3C semantics: the tone playing now
        finishes; append with ``insertDTMF(dtmf.toneBuffer + more)``). ``duration`` and
        ``interToneGap`` (ms) are clamped to the W3C range."""
        if not self.canInsertDTMF:
            raise VoiceDeskError("the peer did not negotiate telephone-event: RFC 4733 DTMF cannot be sent")
        cleaned = check_tones(tones)
        self.duration_ms = min(max(float(duration), MIN_DURATION_MS), MAX_DURATION_MS)
        self.gap_ms = min(max(float(interToneGap), MIN_GAP_MS), MAX_GAP_MS)
        self.toneBuffer = cleaned
        if cleaned and self._sender_to_hook is not None:
            aiortc_patches.rewrite_sent_rtp(self._sender_to_hook, self._rewrite)
            self._sender_to_hook = None

    @property
    def busy(self) -> bool:
        """Tones are queued or one is playing (or its gap is running)."""
        return bool(self.toneBuffer) or self._state != "idle"

    # the sequencer: one call per audio packet the sender sends ----------------
    def _samples(self, ms: float) -> int:
        return round(ms * self.clock_rate / 1000.0)

    def _rewrite(self, data: bytes) -> list[bytes]:
        """The packets to send in place of one audio packet (serialized RTP, before SRTP)."""
        if len(data) < 12:
            return [data]
        if self._state == "idle" and not self.toneBuffer and not self._playing:
            # between keys (what _step would return): the audio, renumbered after any event
            out = [data]
            if not self._seq_shift:
                return out
        else:
            out = self._step(data, int.from_bytes(data[4:8], "big"))
        seq = int.from_bytes(data[2:4], "big")
        if not out:
            self._seq_shift -= 1
            return []
        renumbered = []
        for i, packet in enumerate(out):
            number = (seq + self._seq_shift + i) & 0xFFFF
            renumbered.append(packet[:2] + number.to_bytes(2, "big") + packet[4:])
        self._seq_shift += len(out) - 1
        return renumbered

    def _step(self, data: bytes, timestamp: int) -> list[bytes]:
        while True:
            if self._state == "gap":
                if _before(timestamp, self._until):
                    return [data]
                self._state = "idle"
            if self._state == "idle":
                if not self.toneBuffer:
                    if self._playing:
                        self._playing = False
                        self._fire("")
                    return [data]
                tone, self.toneBuffer = self.toneBuffer[0], self.toneBuffer[1:]
                self._playing = True
                self._fire(tone)
                if tone == ",":
                    self._state, self._until = "gap", (timestamp + self._samples(COMMA_MS)) & 0xFFFFFFFF
                    continue
                self._state, self._tone, self._marked = "tone", tone, False
                self._start, self._left = timestamp, self._samples(self.duration_ms)
                return []  # Chrome skips the event's first frame: its duration would be 0
            return self._tone_packets(data, timestamp)

    def _tone_packets(self, data: bytes, timestamp: int) -> list[bytes]:
        elapsed = (timestamp - self._start) & 0xFFFFFFFF
        out: list[bytes] = []
        if elapsed > MAX_DURATION and elapsed < self._left:
            # RFC 4733 2.5.2.3: a segment is full; the event goes on with a new timestamp
            out.append(self._event_packet(data, MAX_DURATION, end=False))
            self._start = (self._start + MAX_DURATION) & 0xFFFFFFFF
            self._left -= MAX_DURATION
            elapsed -= MAX_DURATION
        if elapsed < self._left:
            out.append(self._event_packet(data, elapsed, end=False))
            return out
        end = self._event_packet(data, min(elapsed, MAX_DURATION), end=True)
        out.extend([end] * END_REPEATS)
        self.packets += END_REPEATS - 1  # _event_packet counted one
        self.sent += self._tone
        self._state, self._until = "gap", (timestamp + self._samples(self.gap_ms)) & 0xFFFFFFFF
        return out

    def _event_packet(self, audio: bytes, duration: int, end: bool) -> bytes:
        """The audio packet's header (SSRC, CSRCs, extensions kept) with the event's payload
        type, timestamp and marker, and an event payload in place of the audio."""
        assert self.payload_type is not None
        header_end = _header_length(audio)
        marker = 0 if self._marked else 0x80
        self._marked = True
        self.packets += 1
        payload = EventPayload(EVENT_CODES[self._tone], end, VOLUME, duration).pack()
        return (
            bytes([audio[0] & ~0x20, marker | self.payload_type])  # no padding: the payload is replaced
            + audio[2:4]
            + self._start.to_bytes(4, "big")
            + audio[8:header_end]
            + payload
        )

    def _fire(self, tone: str) -> None:
        event = ToneChanged(tone, self._now_ms())
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a listener must not stop the sender's packets
                logger.exception("tonechange listener failed")


def _before(a: int, b: int) -> bool:
    """RTP timestamp ``a`` comes before ``b`` (modulo 2**32)."""
    return a != b and ((b - a) & 0xFFFFFFFF) < 0x80000000


def _header_length(packet: bytes) -> int:
    """Bytes of the RTP header: fixed part, CSRCs and the extension block (RFC 3550 5.3.1)."""
    length = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10 and len(packet) >= length + 4:
        length += 4 + 4 * int.from_bytes(packet[length + 2 : length + 4], "big")
    return length
