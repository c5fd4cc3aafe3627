"""The aiortc audio jitter buffer patch: a lost packet costs its 20 ms, nothing more."""

from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket

from voicedesk.rtc import aiortc_patches
from voicedesk.rtc.aiortc_patches import AudioJitterBuffer


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


def test_apply_is_idempotent_and_installs_the_audio_buffer():
    from aiortc import rtcrtpreceiver

    aiortc_patches.apply()
    aiortc_patches.apply()
    assert isinstance(rtcrtpreceiver.JitterBuffer(16, prefetch=4), AudioJitterBuffer)
    assert type(rtcrtpreceiver.JitterBuffer(512, is_video=True)) is JitterBuffer
