"""The aiortc patches: each one's effect, and that apply() checks what it attaches to."""

import asyncio
import logging
import threading
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

import aiortc
import pytest
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket

from voicedesk.rtc import aiortc_patches
from voicedesk.rtc.aiortc_patches import AudioJitterBuffer, PatchState


def feed(buffer: JitterBuffer, sequence: list[int]) -> list[int]:
    """Push packets (one 20 ms Opus frame each); return the timestamps of frames released."""
    out = []
    for seq in sequence:
        packet = RtpPacket(payload_type=111, sequence_number=seq, timestamp=seq * 960)
        packet._data = bytes([seq % 256])
        _, frame = buffer.add(packet)
        if frame is not None:
            out.append(frame.timestamp // 960)
    return out


def test_without_loss_the_patch_changes_nothing():
    sequence = list(range(100, 160))
    assert feed(AudioJitterBuffer(16, prefetch=4), sequence) == feed(JitterBuffer(16, prefetch=4), sequence)


def test_a_lost_packet_is_skipped_after_three_later_ones():
    sequence = [s for s in range(100, 160) if s not in (120, 140, 141)]
    released = feed(AudioJitterBuffer(16, prefetch=4), sequence)
    assert 120 not in released and 140 not in released
    # every packet that arrived comes out, in order, but for the ~6 frames of playout delay still held
    assert released == [s for s in sequence if s <= released[-1]]
    assert len(released) >= len(sequence) - 7


def test_aiortc_original_stalls_and_drops_on_loss():
    """The behaviour the patch exists for (if aiortc fixes it, drop the patch)."""
    sequence = [s for s in range(100, 300) if s % 20 != 0]
    original = feed(JitterBuffer(16, prefetch=4), sequence)
    patched = feed(AudioJitterBuffer(16, prefetch=4), sequence)
    assert len(patched) >= len(sequence) - 7
    assert len(original) < len(sequence) - 30  # 10 packets lost, 40+ frames missing


def feed_catching_up(buffer: AudioJitterBuffer, arrivals: list[list[int]]) -> list[tuple[int, int]]:
    """Push packets in arrival groups; return (newest packet in, newest frame out) after each
    group, and check every frame comes out once, in order."""
    out: list[int] = []
    lag = []
    newest = 0
    for group in arrivals:
        for seq in group:
            packet = RtpPacket(payload_type=111, sequence_number=seq, timestamp=seq * 960)
            packet._data = bytes([seq % 256])
            _, frame = buffer.add(packet)
            if frame is not None:
                out.extend(f.timestamp // 960 for f in [frame, *getattr(frame, "following", [])])
        newest = max(newest, *group)
        lag.append((newest, out[-1] if out else None))
    assert out == sorted(set(out)), "a frame came out twice or out of order"
    return lag


def late_packets() -> list[list[int]]:
    """200 packets, one in every ten 40 ms late (it arrives after the two that follow it):
    ordinary Wi-Fi jitter, no loss."""
    order = list(range(100, 300))
    for late in range(105, 300, 10):
        i = order.index(late)
        order[i : i + 3] = [late + 1, late + 2, late]
    return [[s] for s in order]


def test_after_late_packets_the_buffer_catches_up_instead_of_keeping_the_delay():
    buffer = AudioJitterBuffer(16, prefetch=2, catch_up=True)
    lag = feed_catching_up(buffer, late_packets())
    assert max(newest - out for newest, out in lag[20:] if out is not None) <= 5  # while a packet is late
    newest, released = lag[-1]
    assert newest - released == 2  # back to the prefetch once the late packet is in
    assert buffer.caught_up >= 19  # the frames held behind each late packet left together, none dropped


def test_aiortc_keeps_the_delay_of_a_late_packet_for_the_rest_of_the_call():
    """Why catch_up exists: one frame out per packet in means a backlog is never worked off:
    after the first late packet the buffer holds 40 ms more for good (up to SKIP_AFTER - 1
    frames: a later hole is skipped, not waited for)."""
    lag = feed_catching_up(AudioJitterBuffer(16, prefetch=2), late_packets())
    assert all(newest - out >= 4 for newest, out in lag[10:])  # 80 ms behind, never back to 40


def test_apply_is_idempotent_and_installs_the_audio_buffer():
    from aiortc import rtcrtpreceiver

    aiortc_patches.apply()
    aiortc_patches.apply()
    assert isinstance(rtcrtpreceiver.JitterBuffer(16, prefetch=4), AudioJitterBuffer)
    assert rtcrtpreceiver.JitterBuffer(16, prefetch=4).catch_up  # patch 5's decoder input handles it
    assert type(rtcrtpreceiver.JitterBuffer(512, is_video=True)) is JitterBuffer


# audio level (patch 2) --------------------------------------------------------------
def _frames_for_level():
    import av
    import numpy as np

    rng = np.random.default_rng(7)
    blocks = [
        np.zeros(960, dtype=np.int16),
        np.full(960, 32767, dtype=np.int16),
        np.full(960, -32768, dtype=np.int16),
        (rng.standard_normal(960) * 3000).astype(np.int16),
        (rng.standard_normal(960) * 30).astype(np.int16),
        np.array([1] + [0] * 959, dtype=np.int16),
    ]
    for block in blocks:
        for layout in ("mono", "stereo"):
            data = block if layout == "mono" else np.repeat(block, 2)
            frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format="s16", layout=layout)
            frame.sample_rate = 48000
            yield frame
    for amplitude in (1, 10, 100, 1000, 10000, 30000):
        tone = (amplitude * np.sin(np.arange(960) * 0.1)).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
        frame.sample_rate = 48000
        yield frame


def test_vectorized_audio_level_gives_aiortcs_values():
    frames = list(_frames_for_level())
    expected = [aiortc_patches._original_audio_level(f) for f in frames]
    assert [aiortc_patches.compute_audio_level_dbov(f) for f in frames] == expected
    assert -127 in expected and 0 in expected  # both ends of the range are covered


def test_apply_installs_the_audio_level_where_the_sender_calls_it():
    from aiortc import rtp

    aiortc_patches.apply()
    assert rtp.compute_audio_level_dbov is aiortc_patches.compute_audio_level_dbov


# bounded received-audio queue (patch 3) -------------------------------------------
def test_drop_oldest_queue_keeps_the_newest_and_counts_drops():
    queue = aiortc_patches.DropOldestQueue(3)
    for item in range(5):
        queue.put_nowait(item)
    assert queue.dropped == 2
    assert [queue.get_nowait() for _ in range(3)] == [2, 3, 4]


def test_drop_oldest_queue_never_drops_the_end_marker():
    queue = aiortc_patches.DropOldestQueue(2)
    queue.put_nowait(1)
    queue.put_nowait(None)
    queue.put_nowait(2)  # after the end nothing matters, but the end must stay
    items = [queue.get_nowait() for _ in range(queue.qsize())]
    assert None in items


def test_remote_audio_tracks_get_a_bounded_queue():
    from aiortc.rtcrtpreceiver import RemoteStreamTrack

    aiortc_patches.apply()
    aiortc_patches.apply()
    audio, video = RemoteStreamTrack(kind="audio"), RemoteStreamTrack(kind="video")
    assert isinstance(audio._queue, aiortc_patches.DropOldestQueue)
    assert audio._queue.maxsize == aiortc_patches.MAX_QUEUED_AUDIO_FRAMES
    assert not isinstance(video._queue, aiortc_patches.DropOldestQueue)


# encoded forwarding (patch 4) -------------------------------------------------------
def test_encoded_frame_queue_forwards_packets_as_they_are():
    from aiortc.jitterbuffer import JitterFrame
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters
    from aiortc.rtcrtpreceiver import RemoteStreamTrack

    opus = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)
    track = RemoteStreamTrack(kind="audio")
    queue = aiortc_patches.EncodedFrameQueue(track, lambda: opus)
    queue.put((opus, JitterFrame(data=b"\x01\x02\x03", timestamp=960)))
    queue.put(None)
    packet = track._queue.get_nowait()
    assert bytes(packet) == b"\x01\x02\x03" and packet.pts == 960 and packet.time_base == Fraction(1, 48000)
    assert track._queue.get_nowait() is None
    assert queue.forwarded == 1


def test_encoded_frame_queue_decodes_a_codec_it_cannot_forward():
    from aiortc.jitterbuffer import JitterFrame
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters
    from aiortc.rtcrtpreceiver import RemoteStreamTrack

    opus = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)
    pcmu = RTCRtpCodecParameters(mimeType="audio/PCMU", clockRate=8000, channels=1, payloadType=0)
    track = RemoteStreamTrack(kind="audio")
    queue = aiortc_patches.EncodedFrameQueue(track, lambda: opus)  # we send Opus, the caller sent PCMU
    queue.put((pcmu, JitterFrame(data=b"\xff" * 160, timestamp=0)))
    frame = track._queue.get_nowait()
    assert frame.samples == 160 and queue.decoded == 1 and queue.forwarded == 0


def test_the_audio_buffer_holds_less_than_aiortcs():
    """Released frames lag the newest packet by AUDIO_PREFETCH packets (aiortc: 4)."""
    from aiortc import rtcrtpreceiver

    aiortc_patches.apply()
    sequence = list(range(100, 200))
    ours = feed(rtcrtpreceiver.JitterBuffer(16, prefetch=4), sequence)
    stock = feed(JitterBuffer(16, prefetch=4), sequence)
    assert sequence[-1] - ours[-1] == aiortc_patches.AUDIO_PREFETCH
    assert sequence[-1] - stock[-1] == 4


# checked attachment points (apply) -------------------------------------------------
@pytest.fixture
def stock_aiortc():
    """aiortc as installed, for the test to apply the patches to; afterwards the patches
    as they were, so that other tests are not affected."""
    was_applied = aiortc_patches._applied
    aiortc_patches._unapply()
    yield
    aiortc_patches._unapply()
    if was_applied:
        aiortc_patches.apply()


def test_the_installed_aiortc_has_everything_every_patch_needs(stock_aiortc):
    assert aiortc_patches.check() == {p.number: None for p in aiortc_patches.PATCHES}
    assert {s.state for s in aiortc_patches.status()} == {PatchState.PENDING}
    aiortc_patches.apply()
    assert [str(s) for s in aiortc_patches.status()] == ["applied"] * len(aiortc_patches.PATCHES)


def _fake_method(self, *args):
    return None  # looks up nothing that aiortc's method did


def _break(mp: pytest.MonkeyPatch, how: str) -> None:
    from aiortc import rtcrtpreceiver

    if how == "JitterBuffer renamed":
        mp.delattr(rtcrtpreceiver, "JitterBuffer")
    elif how == "receive no longer starts decoder_worker":
        mp.setattr(rtcrtpreceiver.RTCRtpReceiver, "receive", _fake_method)
    elif how == "RemoteStreamTrack reads no _queue":
        mp.delattr(rtcrtpreceiver.RemoteStreamTrack, "recv")  # MediaStreamTrack.recv is left
    elif how == "a newer aiortc":
        mp.setattr(aiortc, "__version__", "1.17.0")
    elif how == "the sender numbers packets elsewhere":
        from aiortc import rtcrtpsender

        mp.setattr(rtcrtpsender.RTCRtpSender, "_run_rtp", _fake_method)
    elif how == "aiortc has telephone-event":
        from aiortc import codecs
        from aiortc.rtcrtpparameters import RTCRtpCodecParameters

        own = RTCRtpCodecParameters(mimeType="audio/telephone-event", clockRate=8000, payloadType=101)
        mp.setitem(codecs.CODECS, "audio", [*codecs.CODECS["audio"], own])


@pytest.mark.parametrize(
    ("how", "skipped", "named"),
    [
        ("JitterBuffer renamed", {1}, "aiortc.rtcrtpreceiver.JitterBuffer"),
        ("receive no longer starts decoder_worker", {4, 5}, "decoder_worker"),
        ("RemoteStreamTrack reads no _queue", {3}, "_queue"),
        ("a newer aiortc", {5}, "1.16"),
        ("the sender numbers packets elsewhere", {5, 6, 7}, "_run_rtp"),  # 7: _run_rtp writes the level
        ("aiortc has telephone-event", {6}, "telephone-event codec of its own"),
    ],
)
def test_a_missing_attachment_point_skips_that_patch_loudly_and_no_other(stock_aiortc, caplog, how, skipped, named):
    from aiortc import rtcrtpreceiver

    stock_buffer = rtcrtpreceiver.JitterBuffer if how != "JitterBuffer renamed" else None
    with pytest.MonkeyPatch.context() as mp, caplog.at_level(logging.WARNING, logger=aiortc_patches.__name__):
        _break(mp, how)
        aiortc_patches.apply()
        states = {s.number: s for s in aiortc_patches.status()}
        assert {n for n, s in states.items() if s.state is PatchState.SKIPPED} == skipped
        assert {n for n, s in states.items() if s.state is PatchState.APPLIED} == {
            p.number for p in aiortc_patches.PATCHES
        } - skipped
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == len(skipped)  # one line per skipped patch
        first = min(skipped)
        assert f"aiortc patch {first} ({states[first].name}) skipped" in warnings[0] and named in warnings[0]
        assert named in str(states[first])
        if 1 in skipped:
            assert not hasattr(rtcrtpreceiver, "JitterBuffer")  # nothing was bound in its place
        else:
            assert rtcrtpreceiver.JitterBuffer is not stock_buffer  # the others did go in


@pytest.mark.parametrize("switch", ["VOICEDESK_AIORTC_PATCHES=0", "voicedesk_aiortc_patches = false"])
def test_patches_turned_off_leave_aiortc_stock_and_say_so(stock_aiortc, monkeypatch, switch):
    from aiortc import codecs, jitterbuffer, rtcrtpreceiver, rtcrtpsender, rtp

    monkeypatch.setattr(aiortc_patches, "_disabled_by", None)  # and back after the test
    if switch.startswith("VOICEDESK"):
        monkeypatch.setenv("VOICEDESK_AIORTC_PATCHES", "0")
    else:
        aiortc_patches.disable(switch)  # what the pytest plugin does for its ini option
    aiortc_patches.apply()
    assert rtcrtpreceiver.JitterBuffer is jitterbuffer.JitterBuffer
    assert rtp.compute_audio_level_dbov is aiortc_patches._original_audio_level
    assert not hasattr(rtcrtpsender.RTCRtpSender, "_voicedesk_inline")
    assert [str(s) for s in aiortc_patches.status()] == [f"disabled: {switch}"] * len(aiortc_patches.PATCHES)
    assert all(c.mimeType != "audio/telephone-event" for c in codecs.CODECS["audio"])  # none offered


# audio codecs on the event loop (patch 5) -----------------------------------------
def _opus():
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters

    return RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)


def _tone(index: int, amplitude: int = 8000):
    import av
    import numpy as np

    t = np.arange(index * 960, (index + 1) * 960)
    samples = (amplitude * np.sin(2 * np.pi * 440 * t / 48000)).astype(np.int16).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
    frame.sample_rate = 48000
    frame.pts = index * 960
    frame.time_base = Fraction(1, 48000)
    return frame


def _opus_payloads(count: int) -> list[bytes]:
    from aiortc.codecs import get_encoder

    encoder = get_encoder(_opus())
    payloads: list[bytes] = []
    for i in range(count):
        encoded, _ = encoder.encode(_tone(i))
        payloads.extend(encoded)
    return payloads


def _inline_receiver():
    """A real audio RTCRtpReceiver (no transport is used before it receives) and its track."""
    from aiortc.rtcrtpreceiver import RemoteStreamTrack, RTCRtpReceiver

    aiortc_patches.apply()
    receiver = RTCRtpReceiver("audio", SimpleNamespace(state="new"))
    receiver._track = RemoteStreamTrack(kind="audio")
    queue = receiver._RTCRtpReceiver__decoder_queue
    assert isinstance(queue, aiortc_patches.InlineDecodeQueue)
    return receiver, queue


def test_audio_is_decoded_on_the_thread_that_queues_it():
    from aiortc.jitterbuffer import JitterFrame

    receiver, queue = _inline_receiver()
    threads = threading.active_count()
    for i, payload in enumerate(_opus_payloads(3)):
        queue.put((_opus(), JitterFrame(data=payload, timestamp=i * 960)))
        assert receiver._track._queue.qsize() == i + 1  # decoded before put() returned: no thread involved
    assert threading.active_count() == threads
    frames = [receiver._track._queue.get_nowait() for _ in range(3)]
    assert [f.pts for f in frames] == [0, 960, 1920] and all(f.samples == 960 for f in frames)


def test_frames_released_together_are_decoded_in_order_with_mapped_timestamps():
    from aiortc.jitterbuffer import JitterFrame

    receiver, queue = _inline_receiver()
    base = 123_456  # the sender's random RTP timestamp origin
    head, *rest = (JitterFrame(data=p, timestamp=base + i * 960) for i, p in enumerate(_opus_payloads(3)))
    head.following = rest
    head.timestamp = receiver._RTCRtpReceiver__timestamp_mapper.map(head.timestamp)  # as aiortc does for the head
    queue.put((_opus(), head))
    frames = [receiver._track._queue.get_nowait() for _ in range(receiver._track._queue.qsize())]
    assert [f.pts for f in frames] == [0, 960, 1920]


async def test_none_ends_the_track():
    from aiortc.mediastreams import MediaStreamError

    receiver, queue = _inline_receiver()
    queue.put(None)
    with pytest.raises(MediaStreamError):
        await receiver._track.recv()


class _ToneTrack:
    """The least of a MediaStreamTrack that RTCRtpSender reads from."""

    kind = "audio"
    id = "tone"

    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def recv(self) -> Any:
        frame = _tone(len(self.sent))
        self.sent.append(frame)
        return frame


async def test_audio_is_encoded_inline_with_its_level(monkeypatch):
    from aiortc.mediastreams import MediaStreamTrack
    from aiortc.rtcrtpsender import RTCEncodedFrame, RTCRtpSender

    aiortc_patches.apply()
    track = _ToneTrack()
    sender = RTCRtpSender("audio", SimpleNamespace(state="new"))
    monkeypatch.setattr(sender, "_RTCRtpSender__track", track)  # replaceTrack wants a MediaStreamTrack
    assert not isinstance(track, MediaStreamTrack)

    def no_executor(*args: Any) -> None:
        raise AssertionError("audio was sent to the executor")

    monkeypatch.setattr(asyncio.get_running_loop(), "run_in_executor", no_executor)
    encoded = None
    for _ in range(5):  # the encoder may hold the first frame back while it resamples
        encoded = await sender._next_encoded_frame(_opus())
        if encoded is not None:
            break
    assert isinstance(encoded, RTCEncodedFrame) and encoded.payloads and all(encoded.payloads)
    assert encoded.audio_level == aiortc_patches.compute_audio_level_dbov(track.sent[-1])
    assert -127 < encoded.audio_level < 0


# telephone-events (patch 6) ---------------------------------------------------------
async def test_telephone_events_are_offered_sent_beside_the_audio_and_kept_out_of_it():
    """Two aiortc peers over UDP: the offer carries telephone-event like Chrome's, the
    answer accepts it, event packets go out on the audio's SSRC and reach the listener
    (not the audio track), and the receiver counts them as packets of the stream."""
    from aiortc import RTCPeerConnection

    from voicedesk.media.sources import ToneTrack
    from voicedesk.rtc.dtmf_sender import RTCDTMFSender

    aiortc_patches.apply()
    caller, callee = RTCPeerConnection(), RTCPeerConnection()
    got: list[tuple[int, int, int]] = []
    try:
        caller.addTrack(ToneTrack(440))

        @callee.on("track")
        def on_track(track: Any) -> None:
            receiver = next(t.receiver for t in callee.getTransceivers() if t.receiver.track is track)
            assert aiortc_patches.observe_telephone_events(
                receiver, lambda packet, clock: got.append((packet.payload_type, packet.ssrc, clock))
            )

        await caller.setLocalDescription(await caller.createOffer())
        offer = caller.localDescription.sdp
        assert "a=rtpmap:110 telephone-event/48000" in offer and "a=rtpmap:126 telephone-event/8000" in offer
        await callee.setRemoteDescription(caller.localDescription)
        await callee.setLocalDescription(await callee.createAnswer())
        assert "a=rtpmap:110 telephone-event/48000" in callee.localDescription.sdp
        await caller.setRemoteDescription(callee.localDescription)
        async with asyncio.timeout(20):
            while caller.connectionState != "connected" or callee.connectionState != "connected":  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        transceiver = caller.getTransceivers()[0]
        dtmf = RTCDTMFSender.attach(transceiver.sender, transceiver._codecs, lambda: 0.0)
        assert dtmf.canInsertDTMF
        dtmf.insertDTMF("4")
        async with asyncio.timeout(10):
            while dtmf.busy:  # noqa: ASYNC110 - the sender moves on with each packet it sends
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        assert got and {pt for pt, _, _ in got} == {110} and {clock for _, _, clock in got} == {48000}
        assert {ssrc for _, ssrc, _ in got} == {transceiver.sender._ssrc}
        assert len(got) == 7  # 4 updates, 3 end packets: none reached the audio track
        receiver = callee.getTransceivers()[0].receiver
        stream = receiver._RTCRtpReceiver__remote_streams[transceiver.sender._ssrc]
        assert stream.packets_lost == 0  # the events took their sequence numbers from the audio
    finally:
        await caller.close()
        await callee.close()


async def test_event_packets_count_for_loss_but_not_for_jitter(monkeypatch):
    """An event's packets all carry its start timestamp: fed to RFC 3550's jitter they would
    read as ~100 ms of jitter per key. They are counted (no false loss), the jitter is the audio's."""
    from aiortc import rtcrtpreceiver
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters

    aiortc_patches.apply()
    receiver = rtcrtpreceiver.RTCRtpReceiver("audio", SimpleNamespace(state="new"))
    te = RTCRtpCodecParameters(mimeType="audio/telephone-event", clockRate=48000, payloadType=110)
    receiver._RTCRtpReceiver__codecs = {96: _opus(), 110: te}
    now = [1000.0]
    monkeypatch.setattr(rtcrtpreceiver.time, "time", lambda: now[0])
    stream = receiver._RTCRtpReceiver__remote_streams.setdefault(1, rtcrtpreceiver.StreamStatistics(48000))
    for seq in range(20):  # 20 ms apart in time and in timestamp, as the sender sends them
        now[0] += 0.02
        if 5 <= seq < 12:  # a key: four updates and three end packets, all with the start timestamp
            packet = RtpPacket(payload_type=110, sequence_number=seq, timestamp=4 * 960, ssrc=1, payload=bytes(4))
            await receiver._handle_rtp_packet(packet, arrival_time_ms=0)
        else:
            stream.add(RtpPacket(payload_type=96, sequence_number=seq, timestamp=seq * 960, ssrc=1))
    assert stream.packets_received == 20 and stream.packets_lost == 0
    assert stream.jitter == 0


# audio level of encoded packets (patch 7) -----------------------------------------------
class _PacketTrack:
    kind = "audio"
    id = "packets"

    def __init__(self, packets: list[Any]) -> None:
        self.packets = packets

    async def recv(self) -> Any:
        return self.packets.pop(0)


async def test_a_packet_sent_as_it_is_carries_its_level_into_the_rtp_header(monkeypatch):
    import av
    from aiortc.rtcrtpsender import RTCRtpSender
    from aiortc.rtp import HeaderExtensionsMap

    aiortc_patches.apply()
    levelled, plain = av.Packet(_opus_payloads(1)[0]), av.Packet(b"\x01\x02\x03")
    for i, packet in enumerate((levelled, plain)):
        packet.pts, packet.time_base = i * 960, Fraction(1, 48000)
    aiortc_patches.set_packet_audio_level(levelled, -23)
    sender = RTCRtpSender("audio", SimpleNamespace(state="new"))
    monkeypatch.setattr(sender, "_RTCRtpSender__track", _PacketTrack([levelled, plain]))
    first = await sender._next_encoded_frame(_opus())
    second = await sender._next_encoded_frame(_opus())
    assert first.audio_level == -23 and second.audio_level is None  # a level is never carried over

    # what the far end reads: aiortc's own serializer and parser, with the extension negotiated
    from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters

    extensions = HeaderExtensionsMap()
    extensions.configure(
        RTCRtpParameters(
            headerExtensions=[RTCRtpHeaderExtensionParameters(id=2, uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level")]
        )
    )
    packet = RtpPacket(payload_type=111, sequence_number=1, timestamp=0)
    packet.extensions.audio_level = (False, -first.audio_level)  # as RTCRtpSender._run_rtp writes it
    received = RtpPacket.parse(packet.serialize(extensions), extensions)
    assert aiortc_patches.received_audio_level(received) == -23


def test_a_forwarding_receiver_keeps_the_level_each_packet_carried():
    from aiortc.rtcrtpreceiver import RemoteStreamTrack

    track = RemoteStreamTrack(kind="audio")
    queue = aiortc_patches.EncodedFrameQueue(track, lambda: _opus())
    buffer = aiortc_patches.PassThroughJitterBuffer()
    for level in (30, None):
        packet = RtpPacket(payload_type=111, sequence_number=1, timestamp=960)
        packet._data = b"\x01\x02"
        packet.extensions.audio_level = None if level is None else (False, level)
        _, frame = buffer.add(packet)
        queue.put((_opus(), frame))
    assert aiortc_patches.packet_audio_level(track._queue.get_nowait()) == -30
    assert aiortc_patches.packet_audio_level(track._queue.get_nowait()) is None
