"""Opus sent as it was encoded: what a caller that says the same thing on many calls hands
aiortc instead of PCM, so each call costs packets, not an encoder (qa/load.py, qa/talk.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import av
from aiortc.codecs.opus import OpusEncoder

from voicedesk.media.pcm import FRAME_SAMPLES, TIME_BASE, mono_to_frame
from voicedesk.rtc import aiortc_patches


def encode_blocks(blocks: Sequence[Any]) -> tuple[list[bytes], list[int]]:
    """Opus payloads (aiortc's own encoder) and RFC 6465 levels of 20 ms mono blocks."""
    encoder = OpusEncoder()
    opus: list[bytes] = []
    levels: list[int] = []
    for i, block in enumerate(blocks):
        frame = mono_to_frame(block, i * FRAME_SAMPLES)
        levels.append(aiortc_patches.compute_audio_level_dbov(frame))
        opus += encoder.encode(frame)[0]
    return opus, levels


def outgoing(opus: bytes, pcm: Any, level: int, pts: int, mime: str | None) -> Any:
    """What a track hands aiortc for one 20 ms frame: the Opus packet as it is, carrying its
    level (patch 7), while Opus is sent; else the PCM, for aiortc to encode (and measure)."""
    if mime in (None, "audio/opus"):
        packet = av.Packet(opus)
        packet.pts = pts
        packet.time_base = TIME_BASE
        aiortc_patches.set_packet_audio_level(packet, level)
        return packet
    return mono_to_frame(pcm, pts)
