"""RFC 4733 payloads and the receiver's reading of them."""

from __future__ import annotations

import pytest

from voicedesk.rtc.telephone_event import DtmfReceived, EventPayload, TelephoneEventDecoder


def test_payload_round_trip_and_rfc_layout() -> None:
    payload = EventPayload(event=11, end=True, volume=10, duration=4800)
    assert payload.pack() == bytes([11, 0x80 | 10, 0x12, 0xC0])
    assert EventPayload.parse(payload.pack()) == payload
    assert payload.tone == "#" and EventPayload(16, False, 0, 0).tone == "event 16"
    with pytest.raises(ValueError, match="4 bytes"):
        EventPayload.parse(b"\x01\x02")


def feed(decoder: TelephoneEventDecoder, timestamp: int, event: int, duration: int, end: bool = False) -> None:
    decoder.add(timestamp, EventPayload(event, end, 10, duration).pack(), 8000)


def test_one_event_once_despite_three_end_packets() -> None:
    heard: list[DtmfReceived] = []
    decoder = TelephoneEventDecoder(heard.append, lambda: 5.0)
    for duration in (160, 320, 480):
        feed(decoder, 1000, 1, duration)
    for _ in range(3):
        feed(decoder, 1000, 1, 800, end=True)
    assert [(e.tone, e.duration_ms, e.ended, e.t_ms) for e in heard] == [("1", 100.0, True, 5.0)]
    assert decoder.packets == 6


def test_an_event_whose_end_was_lost_is_closed_by_the_next_or_by_finish() -> None:
    heard: list[DtmfReceived] = []
    decoder = TelephoneEventDecoder(heard.append)
    feed(decoder, 1000, 4, 480)  # its end packets never come
    feed(decoder, 9000, 5, 160)
    feed(decoder, 9000, 5, 640, end=True)
    feed(decoder, 20000, 6, 320)
    decoder.finish()
    assert [(e.tone, e.duration_ms, e.ended) for e in heard] == [
        ("4", 60.0, False),
        ("5", 80.0, True),
        ("6", 40.0, False),
    ]
    assert decoder.tones == "456"


def test_a_late_duplicate_and_a_bad_payload_do_not_add_events() -> None:
    heard: list[DtmfReceived] = []
    decoder = TelephoneEventDecoder(heard.append)
    feed(decoder, 1000, 0, 800, end=True)
    feed(decoder, 2000, 9, 800, end=True)
    feed(decoder, 1000, 0, 800, end=True)  # a repeat of the first end, reordered
    decoder.add(3000, b"\x00", 8000)
    assert decoder.tones == "09" and decoder.bad_packets == 1
