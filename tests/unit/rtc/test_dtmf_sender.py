"""RTCDTMFSender's packets, as Chrome sends them, fed with the audio packets aiortc makes."""

from __future__ import annotations

import pytest
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from voicedesk.errors import ConfigError, VoiceDeskError
from voicedesk.rtc.dtmf_sender import RTCDTMFSender, telephone_event_payload_type
from voicedesk.rtc.telephone_event import EventPayload, TelephoneEventDecoder

OPUS_PT, TE_PT, FRAME = 96, 110, 960
SEQ0, TS0, SSRC = 65530, 4_294_960_000, 0x1234ABCD  # both about to wrap


def _mid_only() -> HeaderExtensionsMap:
    from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters

    extensions = HeaderExtensionsMap()
    mid = RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid")
    extensions.configure(RTCRtpParameters(headerExtensions=[mid]))
    return extensions


EXTENSIONS = _mid_only()


def audio_packet(index: int) -> bytes:
    """What aiortc's sender hands the transport: Opus, marker set, a header extension."""
    packet = RtpPacket(
        payload_type=OPUS_PT,
        sequence_number=(SEQ0 + index) & 0xFFFF,
        timestamp=(TS0 + index * FRAME) & 0xFFFFFFFF,
        ssrc=SSRC,
        marker=1,
        payload=b"\xfc" + bytes(40),
    )
    packet.extensions.mid = "0"
    return packet.serialize(EXTENSIONS)


def run(sender: RTCDTMFSender, frames: int) -> list[RtpPacket]:
    out = []
    for i in range(frames):
        out.extend(RtpPacket.parse(data, EXTENSIONS) for data in sender._rewrite(audio_packet(i)))
    return out


def make_sender() -> tuple[RTCDTMFSender, list[str]]:
    sender = RTCDTMFSender(TE_PT, 48000, lambda: 0.0)
    changes: list[str] = []
    sender.add_listener(lambda e: changes.append(e.tone))
    return sender, changes


def test_one_key_as_chrome_sends_it() -> None:
    sender, changes = make_sender()
    sender.insertDTMF("5", duration=100, interToneGap=70)
    packets = run(sender, 12)
    events = [p for p in packets if p.payload_type == TE_PT]
    # first frame skipped; updates at 20, 40, 60, 80 ms; the end three times at 100 ms
    payloads = [EventPayload.parse(p.payload) for p in events]
    assert [p.duration for p in payloads] == [960, 1920, 2880, 3840, 4800, 4800, 4800]
    assert [p.end for p in payloads] == [False] * 4 + [True] * 3
    assert {p.event for p in payloads} == {5} and {p.volume for p in payloads} == {10}
    assert [p.marker for p in events] == [1, 0, 0, 0, 0, 0, 0]
    assert {p.timestamp for p in events} == {TS0}  # the event's start, on every packet
    assert {p.ssrc for p in packets} == {SSRC}
    assert {p.extensions.mid for p in packets} == {"0"}  # header extensions kept
    # one sequence space, no holes, across the wrap: 12 frames - 6 replaced + 7 event packets
    numbers = [p.sequence_number for p in packets]
    assert numbers == [(SEQ0 + i) & 0xFFFF for i in range(len(packets))] and len(packets) == 13
    # the audio pauses for the event and resumes after its end
    kinds = "".join("e" if p.payload_type == TE_PT else "a" for p in packets)
    assert kinds == "eeeeeee" + "aaaaaa"
    assert changes == ["5", ""]
    assert sender.sent == "5" and sender.packets == 7 and not sender.busy


def test_the_gap_and_a_comma_are_kept_on_the_audio_clock() -> None:
    sender, changes = make_sender()
    sender.insertDTMF("1,2", duration=40, interToneGap=30)
    packets = run(sender, 140)
    starts = [p for p in packets if p.payload_type == TE_PT and p.marker]
    # key 1 starts at frame 0; its end at frame 2; gap 30 ms -> 2 frames; the comma waits 2 s
    first, second = ((p.timestamp - TS0) & 0xFFFFFFFF for p in starts)
    assert first == 0
    assert second == (2 + 2 + 100) * FRAME
    assert changes == ["1", ",", "2", ""]


def test_insert_dtmf_checks_its_input_as_w3c_does() -> None:
    sender, _ = make_sender()
    sender.insertDTMF("1a#", duration=10, interToneGap=1)
    assert sender.toneBuffer == "1A#"
    assert (sender.duration_ms, sender.gap_ms) == (40.0, 30.0)  # clamped
    sender.insertDTMF("2", duration=90000, interToneGap=90000)
    assert (sender.toneBuffer, sender.duration_ms, sender.gap_ms) == ("2", 6000.0, 6000.0)
    sender.insertDTMF("")
    assert sender.toneBuffer == ""
    with pytest.raises(ConfigError, match="'X' is not one of 0-9"):
        sender.insertDTMF("12x")


def test_no_telephone_event_no_insert() -> None:
    sender = RTCDTMFSender(None, 48000, lambda: 0.0)
    assert not sender.canInsertDTMF
    with pytest.raises(VoiceDeskError, match="did not negotiate telephone-event"):
        sender.insertDTMF("1")


def test_the_payload_type_matches_the_send_codec_clock() -> None:
    def codec(mime: str, clock: int, pt: int) -> RTCRtpCodecParameters:
        return RTCRtpCodecParameters(mimeType=mime, clockRate=clock, payloadType=pt)

    te8, te48 = codec("audio/telephone-event", 8000, 126), codec("audio/telephone-event", 48000, 110)
    assert telephone_event_payload_type([codec("audio/opus", 48000, 111), te8, te48]) == (110, 48000)
    assert telephone_event_payload_type([codec("audio/PCMU", 8000, 0), te48, te8]) == (126, 8000)
    assert telephone_event_payload_type([codec("audio/opus", 48000, 111), te8]) is None  # Chrome sends none then
    assert telephone_event_payload_type([]) is None


def test_what_the_sender_sends_the_decoder_reads_back_even_with_losses() -> None:
    sender, _ = make_sender()
    sender.insertDTMF("7*", duration=2000, interToneGap=70)  # 2 s: two segments at 48 kHz
    packets = [p for p in run(sender, 240) if p.payload_type == TE_PT]
    heard = []
    decoder = TelephoneEventDecoder(heard.append, lambda: 0.0)
    for i, packet in enumerate(packets):
        if i % 5 == 3:
            continue  # every fifth packet lost
        decoder.add(packet.timestamp, packet.payload, 48000)
    assert decoder.tones == "7*"
    assert [round(e.duration_ms) for e in heard] == [2000, 2000]
