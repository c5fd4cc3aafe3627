"""Every change VoiceDesk makes to aiortc's behaviour, in one place.

Each patch is small, idempotent, tested in tests/unit/test_aiortc_patches.py, and
an upstream candidate. ``apply()`` is called by everything that creates peer
connections (``Call``, ``AgentServer``).

1. Audio jitter buffer: aiortc's JitterBuffer (capacity 16, prefetch 4) stalls on a
   missing audio packet until 16 later packets have arrived, then releases one
   frame per arriving packet: every lost packet adds ~300 ms of delay that never
   drains, and frames are discarded when the backlog overflows. Measured here with
   5 % random loss over 5 s: 235 packets received, 171 frames decoded (27 %
   of the audio missing for 6 % of packets lost; with this patch 228 frames and
   exactly the 320 ms that were lost). Voice cannot wait for a packet
   that will not come (there are no audio NACKs): ``AudioJitterBuffer`` skips a
   hole once ``SKIP_AFTER`` later packets are there, so one lost packet costs 20 ms
   of audio and no lasting delay. Upstream: aiortc/jitterbuffer.py.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from aiortc import jitterbuffer, rtcrtpreceiver

logger = logging.getLogger(__name__)

SKIP_AFTER = 3  # later packets present before a hole is given up (60 ms at 20 ms ptime)

_applied = False


class AudioJitterBuffer(jitterbuffer.JitterBuffer):
    """aiortc's buffer, except that a hole is treated as a frame boundary once
    ``SKIP_AFTER`` later packets are waiting, instead of blocking all output.

    Same prefetch (playout delay) and same frame assembly as aiortc; only the
    "wait for a packet that will never come" part differs."""

    def __init__(self, capacity: int, prefetch: int = 0, is_video: bool = False) -> None:
        super().__init__(capacity=capacity, prefetch=prefetch, is_video=is_video)

    def _present_after(self, count: int) -> int:
        return sum(
            self._packets[(self._origin + i) % self._capacity] is not None  # type: ignore[operator]
            for i in range(count + 1, self._capacity)
        )

    def _remove_frame(self, sequence_number: int) -> jitterbuffer.JitterFrame | None:
        frame = None
        frames = 0
        packets: list[Any] = []
        remove = 0
        timestamp = None
        for count in range(self._capacity):
            packet = self._packets[(self._origin + count) % self._capacity]  # type: ignore[operator]
            if packet is None:
                if self._present_after(count) < SKIP_AFTER:
                    break
                if not packets:
                    continue  # a hole at the head or right after a frame: step over it
                boundary = True
            else:
                boundary = timestamp is not None and packet.timestamp != timestamp
            if boundary and packets:
                if frame is None:
                    frame = jitterbuffer.JitterFrame(data=b"".join(p._data for p in packets), timestamp=timestamp)
                    remove = count
                frames += 1
                if frames >= self._prefetch:
                    self.remove(remove)
                    return frame
                packets = []
                timestamp = None
            if packet is not None:
                if timestamp is None:
                    timestamp = packet.timestamp
                packets.append(packet)
        return None


def _jitter_buffer_factory(capacity: int, prefetch: int = 0, is_video: bool = False) -> jitterbuffer.JitterBuffer:
    if is_video:
        return jitterbuffer.JitterBuffer(capacity=capacity, prefetch=prefetch, is_video=True)
    return AudioJitterBuffer(capacity=capacity, prefetch=prefetch)


def apply() -> None:
    """Install the patches (once per process).

    ``VOICEDESK_AIORTC_PATCHES=0`` leaves aiortc stock: to compare against it
    (bench/jitter_buffer_loss.py) or to rule the patches out when debugging."""
    global _applied
    if _applied or os.environ.get("VOICEDESK_AIORTC_PATCHES", "1") == "0":
        return
    rtcrtpreceiver.JitterBuffer = _jitter_buffer_factory  # type: ignore[assignment,misc]
    _applied = True
    logger.debug("aiortc patches applied: audio jitter buffer")
