"""A call's keypad: DTMF sent in-band or as RFC 4733 telephone-events, and events received.

``Call`` owns one ``CallKeypad``. Sending picks the mode the user asked for:

- ``inband``: Q.23 tone pairs mixed into the audio (media/dtmf.py), heard by any agent;
- ``rfc4733``: telephone-event packets from the call's ``RTCDTMFSender`` (rtc/dtmf_sender.py,
  W3C ``call.dtmf.insertDTMF``); refused with one clear line when the answer did not accept
  telephone-event;
- ``auto``: RFC 4733 when negotiated, else in-band, and the summary says which and why.

Telephone-events the peer sends are decoded (rtc/telephone_event.py) and become
``DtmfReceived`` call events and the summary's ``dtmf.received``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from voicedesk.errors import ConfigError, VoiceDeskError
from voicedesk.media.dtmf import GAP_MS, TONE_MS, validate_digits
from voicedesk.media.sources import OutboundAudioTrack
from voicedesk.rtc import aiortc_patches
from voicedesk.rtc.dtmf_sender import COMMA_MS, DEFAULT_DURATION_MS, DEFAULT_GAP_MS, RTCDTMFSender, ToneChanged
from voicedesk.rtc.telephone_event import DtmfReceived, TelephoneEventDecoder

logger = logging.getLogger(__name__)

DTMF_MODES = ("auto", "rfc4733", "inband")
NOT_NEGOTIATED = "the peer did not accept telephone-event in its answer"


@dataclass(frozen=True)
class DtmfSending:
    """What ``send`` did: the mode used, how long the tones take, and why auto chose in-band."""

    tones: str
    mode: str  # rfc4733 | inband
    seconds: float
    note: str | None = None


def check_mode(mode: str) -> str:
    word = mode.strip().lower()
    if word not in DTMF_MODES:
        raise ConfigError(f"DTMF mode must be one of {', '.join(DTMF_MODES)}, not {mode!r}")
    return word


class CallKeypad:
    def __init__(self, outbound: OutboundAudioTrack, now_ms: Callable[[], float], emit: Callable[[Any], None]) -> None:
        self.outbound = outbound
        self._now_ms = now_ms
        self._emit = emit
        self.dtmf: RTCDTMFSender | None = None  # W3C sender.dtmf, once connected and sending
        self.decoder = TelephoneEventDecoder(self._on_received, now_ms)
        self.sent: list[DtmfSending] = []
        self.notes: list[str] = []

    # set-up -----------------------------------------------------------------
    def watch(self, receiver: Any) -> None:
        """Decode the telephone-events ``receiver`` gets (before the call starts receiving)."""
        aiortc_patches.observe_telephone_events(receiver, self._on_packet)

    def connected(self, transceivers: list[Any]) -> None:
        """Make the DTMF sender of the audio sender, now that the answer is applied."""
        for transceiver in transceivers:
            if transceiver.kind != "audio" or transceiver.sender.track is None:
                continue
            codecs = list(getattr(transceiver, "_codecs", None) or [])  # aiortc keeps the negotiated list private
            self.dtmf = RTCDTMFSender.attach(transceiver.sender, codecs, self._now_ms)
            self.dtmf.add_listener(self._emit)
            logger.debug(
                "telephone-event %s", f"payload type {self.dtmf.payload_type}" if self.dtmf.canInsertDTMF else "none"
            )
            return

    # sending ----------------------------------------------------------------
    @property
    def can_send_events(self) -> bool:
        return self.dtmf is not None and self.dtmf.canInsertDTMF

    def send(
        self, tones: str, mode: str = "inband", duration: float | None = None, inter_tone_gap: float | None = None
    ) -> DtmfSending:
        """Send ``tones`` in ``mode`` (see the module's docstring); ConfigError for a bad tone,
        VoiceDeskError for ``rfc4733`` to a peer that did not negotiate it. ``duration`` and
        ``inter_tone_gap`` (ms) default to each mode's own: W3C's 100/70 for events, a
        phone's 90/70 in-band."""
        mode = check_mode(mode)
        cleaned = validate_digits(tones)  # refuses an empty string too
        note = None
        if mode == "auto":
            mode = "rfc4733" if self.can_send_events else "inband"
            if mode == "inband":
                note = f"{NOT_NEGOTIATED}: sent in-band" if self.dtmf is not None else "not sending yet: sent in-band"
                self.notes.append(note)
                logger.info("DTMF %s", note)
        if mode == "rfc4733":
            if self.dtmf is None or not self.dtmf.canInsertDTMF:
                why = NOT_NEGOTIATED if self.dtmf is not None else "the call is not connected (or sends no audio)"
                raise VoiceDeskError(f"cannot send RFC 4733 DTMF: {why}; use --dtmf-mode inband or auto")
            self.dtmf.insertDTMF(
                self.dtmf.toneBuffer + cleaned,
                DEFAULT_DURATION_MS if duration is None else duration,
                DEFAULT_GAP_MS if inter_tone_gap is None else inter_tone_gap,
            )
            seconds = event_seconds(cleaned, self.dtmf.duration_ms, self.dtmf.gap_ms)
        else:
            tone_ms = min(max(TONE_MS if duration is None else duration, 40.0), 1000.0)  # the generator's range
            gap_ms = min(max(GAP_MS if inter_tone_gap is None else inter_tone_gap, 40.0), 1000.0)
            seconds = self.outbound.send_dtmf(cleaned, tone_ms, gap_ms)
        sending = DtmfSending(cleaned, mode, seconds, note)
        self.sent.append(sending)
        return sending

    @property
    def pending(self) -> bool:
        """Tones are still going out (either way)."""
        return self.outbound.dtmf_pending or (self.dtmf is not None and self.dtmf.busy)

    # receiving --------------------------------------------------------------
    def _on_packet(self, packet: Any, clock_rate: int) -> None:
        self.decoder.add(packet.timestamp, packet.payload, clock_rate)

    def _on_received(self, event: DtmfReceived) -> None:
        logger.info("received DTMF %r (%.0f ms%s)", event.tone, event.duration_ms, "" if event.ended else ", no end")
        self._emit(event)

    def finish(self) -> None:
        self.decoder.finish()

    # results ----------------------------------------------------------------
    def summary(self) -> dict[str, Any] | None:
        """The summary's ``dtmf`` entry; None when the call neither sent nor received any."""
        if not self.sent and not self.decoder.events:
            return None
        modes = sorted({s.mode for s in self.sent})
        return {
            "sent": "".join(s.tones for s in self.sent),
            "mode": modes[0] if len(modes) == 1 else (",".join(modes) or None),
            "telephone_event": self.dtmf.payload_type if self.dtmf is not None else None,
            "event_packets_sent": self.dtmf.packets if self.dtmf is not None else 0,
            "notes": list(dict.fromkeys(self.notes)),
            "received": self.decoder.tones,
            "received_events": [e.to_json() for e in self.decoder.events],
        }


def event_seconds(tones: str, duration_ms: float = DEFAULT_DURATION_MS, gap_ms: float = DEFAULT_GAP_MS) -> float:
    """How long tones take as events: each tone skips a frame, lasts ``duration_ms`` in 20 ms
    frames, then waits ``gap_ms``; a comma waits 2 s."""
    total = 0.0
    for tone in tones:
        if tone == ",":
            total += COMMA_MS
        else:
            total += 20.0 + math.ceil(duration_ms / 20.0) * 20.0 + math.ceil(gap_ms / 20.0) * 20.0
    return total / 1000.0


__all__ = ["DTMF_MODES", "CallKeypad", "DtmfReceived", "DtmfSending", "ToneChanged", "check_mode", "event_seconds"]
