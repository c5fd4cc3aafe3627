"""Every change VoiceDesk makes to aiortc's behaviour, in one place.

Each patch is small, idempotent, tested in tests/unit/rtc/test_aiortc_patches.py, and
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
   of audio and no lasting delay. It also holds ``AUDIO_PREFETCH`` (2) frames
   instead of aiortc's 4: 40 ms less latency per audio receiver. And it catches
   up: aiortc releases one frame per arriving packet, so the frames a late packet
   held back stay held for the rest of the call (+40 ms from the first late packet
   on, up to 320 ms after a stall); this buffer releases every complete frame beyond
   its prefetch at once (``frame.following``, decoded in order by patch 5). Under
   20 ms of jitter an echo comes back in 42 ms instead of 88
   (bench/jitter_buffer_catch_up.py). Upstream: aiortc/jitterbuffer.py and
   rtcrtpreceiver.py (a buffer that may release several frames per packet).
2. Audio level: aiortc computes the RFC 6465 level of every outgoing audio frame
   sample by sample in pure Python (``aiortc.rtp.compute_audio_level_dbov``), the
   largest single cost of an aiortc audio sender. ``compute_audio_level_dbov`` here
   is the same formula over the same bytes with numpy: identical values (tested),
   a fraction of the CPU. Upstream: aiortc/rtp.py.
3. Bounded received-audio queue: a ``RemoteStreamTrack`` queues decoded frames
   without limit, so a reader that falls behind (a saturated server) or never reads
   (an agent that ignores what it hears) grows latency and memory for ever (10 s
   and 1 GB at 60 calls, measured). Audio tracks here keep at most
   ``MAX_QUEUED_AUDIO_FRAMES`` (1 s) and drop the oldest frame past that, counted in
   ``track._queue.dropped``. Upstream: aiortc/rtcrtpreceiver.py (RemoteStreamTrack).
4. Encoded forwarding (opt-in per receiver): ``forward_encoded(receiver)`` makes a
   receiver hand its reassembled encoded frames to its track as ``av.Packet``s
   instead of decoding them on a thread; aiortc's ``RTCRtpSender`` sends packets it
   reads from a track as they are (``Encoder.pack``), so an echo forwards the
   caller's Opus payloads bit for bit with no decoder thread, no encoder hop and
   no resampling. A frame whose codec is not the one the answer sends with is
   decoded as before (inline). Such a receiver also skips the jitter buffer
   (``PassThroughJitterBuffer``): a forwarder passes packets on as they come, as an
   SFU does, and the far end's jitter buffer does the waiting; the echo comes back
   ~4 frames (80 ms) sooner. Upstream: a hook in aiortc/rtcrtpreceiver.py (there is
   no public way to read encoded frames from a receiver).
5. Audio codecs on the event loop: aiortc decodes every receiver's audio on a
   thread of its own and encodes every sender's audio in the default executor, so
   each call adds threads that take the GIL from the loop 50 times a second each
   way. An Opus frame costs tens of microseconds to decode or encode, less than
   the hop to a thread and back, so audio is decoded (``InlineDecodeQueue``) and
   encoded inline; video keeps aiortc's threads. Upstream: aiortc/rtcrtpreceiver.py
   and rtcrtpsender.py (an option to run audio codecs inline).
6. Telephone-events (RFC 4733 DTMF): aiortc has no ``telephone-event`` codec, so it
   never offers or accepts one (Chrome offers ``telephone-event/48000`` and ``/8000``
   beside Opus), and a received event packet would reach the jitter buffer and a decoder
   that does not exist. This patch adds both codecs to aiortc's audio codec list (same
   payload types as Chrome: 110 and 126), and makes every receiver hand telephone-event
   packets to a listener (``observe_telephone_events``) after counting them in its RTCP
   statistics (for loss; the jitter stays the audio's), instead of queuing them as audio.
   Sending needs a hook aiortc lacks: its ``RTCRtpSender`` numbers packets in a local
   variable of ``_run_rtp``, so
   ``rewrite_sent_rtp`` lets a sender's serialized packets be replaced (rtc/dtmf_sender.py
   makes event packets of them) on their way to the DTLS transport. Upstream: a
   telephone-event codec and an ``RTCDTMFSender`` in aiortc/rtcrtpsender.py.
7. Audio level of encoded packets (RFC 6464): aiortc writes the
   ``urn:ietf:params:rtp-hdrext:ssrc-audio-level`` extension only for frames it
   encodes; a packet a track hands it already encoded (a forwarding echo, the load
   caller's pre-encoded Opus) went out without one, so the far end could not tell
   speech from silence without decoding. A packet may now carry its level
   (``set_packet_audio_level``, kept in ``av.Packet.opaque``) and the sender writes
   it; a forwarding receiver (patch 4) keeps the level each received packet carried,
   so an echo sends back the caller's levels. Upstream: aiortc/rtcrtpsender.py
   (``Encoder.pack`` could return a level).

The patches reach into aiortc 1.16's private names, and patch 5 replaces a method
with a copy of 1.16's, so pyproject.toml pins aiortc to 1.16.x. Should another aiortc
get installed anyway, ``apply()`` first checks every name each patch rebinds, reads or
relies on aiortc looking up (``PATCHES``, ``check()``), skips a patch whose names are
not all there with one warning naming what is missing, and leaves that part of aiortc
stock; ``status()`` says what happened to each (``voicedesk --smoke-test`` shows it).
"""

from __future__ import annotations

import asyncio
import enum
import fractions
import functools
import importlib
import inspect
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiortc
import av
import numpy as np
from aiortc import jitterbuffer, rtcrtpreceiver, rtp
from aiortc.codecs import get_decoder

logger = logging.getLogger(__name__)

SKIP_AFTER = 3  # later packets present before a hole is given up (60 ms at 20 ms ptime)
# Complete frames held before the oldest is released. aiortc holds 4 (~80 ms on every
# audio receiver, ours and the embedded agent's: it showed up twice in mouth-to-ear
# latency and in every voice-to-voice figure VoiceDesk measures). 2 adds ~40 ms and,
# in a simulation with 40 ms of Gaussian jitter, loses 0.9 % of frames to reordering
# (aiortc's 4: 0.3 %, 1: 3.2 %); the playout buffer in front of the speaker absorbs
# the rest of the jitter. See tests/unit/rtc/test_aiortc_patches.py.
AUDIO_PREFETCH = 2

_applied = False


class AudioJitterBuffer(jitterbuffer.JitterBuffer):
    """aiortc's buffer, except that a hole is treated as a frame boundary once
    ``SKIP_AFTER`` later packets are waiting, instead of blocking all output; and,
    with ``catch_up``, every complete frame beyond the prefetch leaves at once.

    aiortc releases at most one frame per arriving packet, so after a stall (a Wi-Fi
    hiccup, a late packet, a burst) the frames that piled up stay piled up: the buffer
    only ever grows, up to its 16 packets (320 ms), and that delay stays for the rest
    of the call. With ``catch_up`` the first frame is returned with the others that
    are complete in ``frame.following``; the decoder input (``InlineDecodeQueue``)
    decodes them in order. Nothing is dropped: whoever reads the track takes the burst
    (the speaker's playout buffer absorbs it, an agent just processes it sooner).

    Same prefetch (playout delay) and same frame assembly as aiortc otherwise."""

    def __init__(self, capacity: int, prefetch: int = 0, is_video: bool = False, catch_up: bool = False) -> None:
        super().__init__(capacity=capacity, prefetch=prefetch, is_video=is_video)
        self.catch_up = catch_up
        self.caught_up = 0  # frames released beyond one per packet (diagnostics, tests)

    def _present_after(self, count: int) -> int:
        return sum(
            self._packets[(self._origin + i) % self._capacity] is not None  # type: ignore[operator]
            for i in range(count + 1, self._capacity)
        )

    def _complete_frames(self, enough: int) -> list[tuple[int, jitterbuffer.JitterFrame]]:
        """Up to ``enough`` complete frames from the head, each with the number of slots
        to remove to release it (and everything before it)."""
        found: list[tuple[int, jitterbuffer.JitterFrame]] = []
        packets: list[Any] = []
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
                found.append(
                    (count, jitterbuffer.JitterFrame(data=b"".join(p._data for p in packets), timestamp=timestamp))
                )
                if len(found) >= enough:
                    break
                packets = []
                timestamp = None
            if packet is not None:
                if timestamp is None:
                    timestamp = packet.timestamp
                packets.append(packet)
        return found

    def _remove_frame(self, sequence_number: int) -> jitterbuffer.JitterFrame | None:
        found = self._complete_frames(self._capacity if self.catch_up else self._prefetch)
        if len(found) < self._prefetch:
            return None
        # keep prefetch - 1 complete frames (and the one being assembled), as aiortc does
        # in the steady state; without catch_up, release one as aiortc does always
        release = len(found) - (self._prefetch - 1) if self.catch_up else 1
        self.remove(found[release - 1][0])
        head = found[0][1]
        if release > 1:
            head.following = [f for _, f in found[1:release]]  # type: ignore[attr-defined]
            self.caught_up += release - 1
        return head


def _jitter_buffer_factory(capacity: int, prefetch: int = 0, is_video: bool = False) -> jitterbuffer.JitterBuffer:
    if is_video:
        return jitterbuffer.JitterBuffer(capacity=capacity, prefetch=prefetch, is_video=True)
    # catching up needs a decoder input that decodes ``frame.following`` (patch 5's)
    inline = getattr(rtcrtpreceiver.RTCRtpReceiver, "_voicedesk_inline", False)
    return AudioJitterBuffer(capacity=capacity, prefetch=AUDIO_PREFETCH, catch_up=inline)


class PatchState(enum.Enum):
    PENDING = "not applied yet"  # no call has been made in this process
    APPLIED = "applied"
    SKIPPED = "skipped"
    DISABLED = "disabled"


@dataclass(frozen=True)
class PatchStatus:
    number: int
    name: str
    state: PatchState
    reason: str | None = None  # what aiortc lacks (skipped), or what turned the patches off (disabled)

    def __str__(self) -> str:
        return self.state.value if self.reason is None else f"{self.state.value}: {self.reason}"


@dataclass(frozen=True)
class Patch:
    """One patch and what it needs from aiortc.

    ``needs``: ``(path, names)`` pairs; ``path`` (below the ``aiortc`` package) must
    exist, and when ``names`` are given it is a function whose code looks all of them
    up: a name rebound in a module takes effect only where aiortc looks it up at call
    time, and a private attribute a patch reads or replaces must still be the one
    aiortc sets and reads (``co_names`` holds both, name-mangled)."""

    number: int
    name: str
    needs: tuple[tuple[str, tuple[str, ...]], ...]
    install: Callable[[], None]
    after: tuple[int, ...] = ()  # patches this one cannot work without
    copied_from: str | None = None  # the aiortc release a method it replaces was copied from
    conflict: Callable[[], str | None] | None = None  # what else in aiortc stands in its way, in words


_status: dict[int, PatchStatus] = {}
_disabled_by: str | None = None  # see disable()
_ABSENT = object()
_replaced: list[tuple[Any, str, Any]] = []  # (owner, name, what was there) for _unapply()


def _replace(owner: Any, name: str, value: Any) -> None:
    if isinstance(owner, dict):
        _replaced.append((owner, name, owner[name]))
        owner[name] = value
        return
    _replaced.append((owner, name, vars(owner).get(name, _ABSENT)))
    setattr(owner, name, value)


def _unapply() -> None:
    """Put back everything ``apply()`` replaced, so that it can check and patch again
    (tests check stock aiortc, and aiortc with a name taken away, in one process)."""
    global _applied
    while _replaced:
        owner, name, old = _replaced.pop()
        if isinstance(owner, dict):  # an entry of aiortc's codec table
            owner[name] = old
        elif old is _ABSENT:
            delattr(owner, name)
        else:
            setattr(owner, name, old)
    _status.clear()
    _applied = False


def _resolve(path: str) -> Any:
    module, _, rest = path.partition(".")
    found: Any = importlib.import_module(f"aiortc.{module}")
    for part in rest.split(".") if rest else ():
        found = getattr(found, part)
    return found


def _missing(patch: Patch) -> str | None:
    """What ``patch`` needs and this aiortc lacks, in words; None when nothing."""
    for path, names in patch.needs:
        try:
            found = _resolve(path)
        except (ImportError, AttributeError):
            return f"no aiortc.{path}"
        # a method patch 6 wrapped is checked as aiortc wrote it (status() after apply())
        code = getattr(inspect.unwrap(found) if callable(found) else found, "__code__", None)
        absent = [name for name in names if code is None or name not in code.co_names]
        if absent:
            return f"aiortc.{path} no longer uses {', '.join(absent)}"
    if patch.conflict is not None and (conflict := patch.conflict()) is not None:
        return conflict
    version = getattr(aiortc, "__version__", "?")
    if patch.copied_from is not None and not version.startswith(patch.copied_from + "."):
        return f"it replaces a method with a copy of aiortc {patch.copied_from}'s, and this is aiortc {version}"
    return None


def check() -> dict[int, str | None]:
    """Per patch number, what the installed aiortc lacks for it (None: nothing)."""
    found: dict[int, str | None] = {}
    for patch in PATCHES:
        missing = _missing(patch)
        for number in patch.after:
            if missing is None and found.get(number) is not None:
                missing = f"it needs patch {number} ({_by_number(number).name}), which is skipped"
        found[patch.number] = missing
    return found


def _by_number(number: int) -> Patch:
    return next(p for p in PATCHES if p.number == number)


def status() -> tuple[PatchStatus, ...]:
    """What happened to each patch in this process, in patch order."""
    return tuple(_status.get(p.number, PatchStatus(p.number, p.name, PatchState.PENDING)) for p in PATCHES)


def _is_applied(number: int) -> bool:
    entry = _status.get(number)
    return entry is not None and entry.state is PatchState.APPLIED


def disable(why: str) -> None:
    """Leave aiortc as installed in this process, as ``VOICEDESK_AIORTC_PATCHES=0`` does;
    ``why`` (the setting that asked for it) shows in ``status()``. Call it before the first
    call: patches already applied stay."""
    global _disabled_by
    _disabled_by = why


def apply() -> None:
    """Install the patches (once per process), each only if aiortc has everything it needs.

    ``VOICEDESK_AIORTC_PATCHES=0`` (or ``disable()``) leaves aiortc stock: to compare
    against it (bench/jitter_buffer_loss.py), to rule the patches out when debugging,
    or to keep a process that runs its own aiortc peers as it was."""
    global _applied
    if _applied:
        return
    off = _disabled_by or ("VOICEDESK_AIORTC_PATCHES=0" if os.environ.get("VOICEDESK_AIORTC_PATCHES") == "0" else None)
    if off is not None:
        for patch in PATCHES:
            _status[patch.number] = PatchStatus(patch.number, patch.name, PatchState.DISABLED, off)
        return
    missing = check()
    for patch in PATCHES:
        reason = missing[patch.number]
        if reason is None:
            patch.install()
            _status[patch.number] = PatchStatus(patch.number, patch.name, PatchState.APPLIED)
        else:
            # loud on purpose: a skipped patch changes what a call sounds like and measures
            logger.warning(
                "aiortc patch %d (%s) skipped, aiortc left as it is there: %s (VoiceDesk is tested with aiortc 1.16)",
                patch.number,
                patch.name,
                reason,
            )
            _status[patch.number] = PatchStatus(patch.number, patch.name, PatchState.SKIPPED, reason)
    _applied = True
    applied = [p.name for p in PATCHES if _is_applied(p.number)]
    logger.debug("aiortc patches applied: %s", ", ".join(applied) or "none")


def _install_jitter_buffer() -> None:
    _replace(rtcrtpreceiver, "JitterBuffer", _jitter_buffer_factory)


# 2. audio level ------------------------------------------------------------------
_original_audio_level = getattr(rtp, "compute_audio_level_dbov", None)  # checked by apply() before use


def _install_audio_level() -> None:
    _replace(rtp, "compute_audio_level_dbov", compute_audio_level_dbov)


def compute_audio_level_dbov(frame: av.AudioFrame) -> int:
    """RFC 6465 Appendix A level in dBov (-127..0), as aiortc computes it, vectorized.

    Same bytes (the whole first plane, as aiortc reads it), same sum (int64 is exact
    where aiortc's float sum is: far below 2**53), same rounding."""
    samples = np.frombuffer(frame.planes[0], dtype=np.int16)
    energy = float(np.dot(samples, samples.astype(np.int64)))
    rms = math.sqrt(energy / (frame.samples * 32767 * 32767))
    if rms <= 0:
        return -127
    return round(min(max(20 * math.log10(rms), -127), 0))


# 3. bounded received-audio queue -----------------------------------------------
MAX_QUEUED_AUDIO_FRAMES = 50  # 1 s of 20 ms frames: a reader further behind than that hears old audio anyway


class DropOldestQueue(asyncio.Queue):  # type: ignore[type-arg]
    """An ``asyncio.Queue`` that never blocks a producer: past ``maxsize`` the oldest
    item goes. ``None`` (aiortc's end-of-track marker) is never dropped."""

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize=maxsize)
        self.dropped = 0

    def put_nowait(self, item: Any) -> None:
        while self.full():
            oldest = self.get_nowait()
            if oldest is None:  # keep the end marker; it is the last thing a reader sees
                super().put_nowait(oldest)
                return
            if not self.dropped:
                logger.debug("received audio is read more than %d frames late: dropping the oldest", self.maxsize)
            self.dropped += 1
        super().put_nowait(item)

    async def put(self, item: Any) -> None:  # the decoder thread awaits this through run_coroutine_threadsafe
        self.put_nowait(item)


def _patch_remote_track_queue() -> None:
    cls = rtcrtpreceiver.RemoteStreamTrack
    if getattr(cls, "_voicedesk_bounded", False):
        return
    original_init = cls.__init__

    def __init__(self: Any, kind: str, *args: Any, **kwargs: Any) -> None:
        original_init(self, kind, *args, **kwargs)
        if kind == "audio":
            self._queue = DropOldestQueue(MAX_QUEUED_AUDIO_FRAMES)

    _replace(cls, "__init__", __init__)
    _replace(cls, "_voicedesk_bounded", True)


# 4. encoded forwarding ---------------------------------------------------------
class EncodedFrameQueue:
    """Stands in for a receiver's decoder input queue (a ``queue.Queue`` read by its
    decoder thread): each ``(codec, JitterFrame)`` the receiver puts goes straight
    to the track as an ``av.Packet``. It runs on the event loop, where aiortc's
    ``_handle_rtp_packet`` calls ``put``.

    ``send_codec`` returns the codec the answer sends with (known only once
    negotiation is done); frames of another codec are decoded here instead.
    """

    def __init__(self, track: Any, send_codec: Any = None) -> None:
        self._track = track
        self._send_codec = send_codec
        self._decoder: Any = None
        self._decoder_codec: str | None = None
        self.forwarded = 0
        self.decoded = 0

    @property
    def _out(self) -> asyncio.Queue[Any]:
        return self._track._queue

    def _forwardable(self, codec: Any) -> bool:
        wanted = self._send_codec() if self._send_codec is not None else None
        return wanted is None or wanted.mimeType.lower() == codec.mimeType.lower()

    def put(self, task: Any) -> None:
        if task is None:  # the receiver is stopping: end the track, as the decoder thread would
            self._out.put_nowait(None)
            return
        codec, encoded_frame = task
        if self._forwardable(codec):
            packet = av.Packet(encoded_frame.data)
            packet.pts = encoded_frame.timestamp
            packet.time_base = fractions.Fraction(1, codec.clockRate)
            set_packet_audio_level(packet, getattr(encoded_frame, "audio_level", None))  # patch 7
            self._out.put_nowait(packet)
            self.forwarded += 1
            return
        if self._decoder_codec != codec.name:
            self._decoder, self._decoder_codec = get_decoder(codec), codec.name
        try:
            frames = self._decoder.decode(encoded_frame)
        except av.FFmpegError as exc:
            logger.debug("forwarding receiver could not decode a %s frame: %s", codec.name, exc)
            return
        for frame in frames:
            self._out.put_nowait(frame)
            self.decoded += 1


def forward_encoded(receiver: Any, send_codec: Any = None) -> EncodedFrameQueue | None:
    """Make ``receiver`` deliver encoded frames (``av.Packet``) on its track.

    Call it before the receiver starts (in the peer connection's ``track`` event).
    No decoder thread runs for it. ``send_codec``: see ``EncodedFrameQueue``.
    Returns None, changing nothing, when the patches are off (``VOICEDESK_AIORTC_PATCHES=0``)
    or this patch was skipped (``status()``)."""
    apply()
    if not _is_applied(4):
        return None
    if receiver.track is None:
        raise ValueError("forward_encoded needs a receiver with a track (call it from the 'track' event)")
    queue = EncodedFrameQueue(receiver.track, send_codec)
    receiver._RTCRtpReceiver__decoder_queue = queue  # aiortc's private name for the decoder's input queue
    if receiver.track.kind == "audio":
        receiver._RTCRtpReceiver__jitter_buffer = PassThroughJitterBuffer()
    return queue


class PassThroughJitterBuffer:
    """For a receiver that forwards: every audio packet is a frame of its own, handed on
    as it arrives (late, early or twice, as the network delivered it). Opus puts one
    frame in one packet, so no reassembly is needed."""

    def add(self, packet: Any) -> tuple[bool, jitterbuffer.JitterFrame | None]:
        data = getattr(packet, "_data", b"")
        if not data:
            return False, None
        frame = jitterbuffer.JitterFrame(data=data, timestamp=packet.timestamp)
        frame.audio_level = received_audio_level(packet)  # type: ignore[attr-defined]  # patch 7
        return False, frame


_original_decoder_worker = getattr(rtcrtpreceiver, "decoder_worker", None)  # checked by apply() before use


def _decoder_worker(loop: Any, input_q: Any, output_q: Any, decode_error: Any) -> None:
    """aiortc starts this on a thread for every receiver; a forwarding one needs none."""
    if isinstance(input_q, EncodedFrameQueue):
        return
    _original_decoder_worker(loop, input_q, output_q, decode_error)  # type: ignore[misc]


def _patch_decoder_worker() -> None:
    _replace(rtcrtpreceiver, "decoder_worker", _decoder_worker)


# received-packet hook (not a patch: it changes nothing aiortc does) ----------------
def observe_received_rtp(receiver: Any, on_packet: Callable[[], None]) -> bool:
    """Call ``on_packet()`` for every RTP packet the DTLS transport hands ``receiver``,
    before the jitter buffer and any decoding (rtc/liveness.py counts them).

    aiortc has no public per-packet event; its transport calls the receiver's
    ``_handle_rtp_packet`` for each packet, so this wraps that one method on this one
    object. Returns False, changing nothing, when aiortc has no such method (the caller
    then does not watch, rather than read an absent hook as a silent peer). Upstream:
    an ``onpacket``-style hook on RTCRtpReceiver."""
    handle = getattr(receiver, "_handle_rtp_packet", None)
    if handle is None or not inspect.iscoroutinefunction(handle):
        return False

    async def _handle_rtp_packet(packet: Any, arrival_time_ms: int) -> None:
        on_packet()
        await handle(packet, arrival_time_ms=arrival_time_ms)

    receiver._handle_rtp_packet = _handle_rtp_packet
    return True


# 5. audio codecs on the event loop ----------------------------------------------
class InlineDecodeQueue(EncodedFrameQueue):
    """A receiver's decoder input that decodes audio right where aiortc queues it
    (on the loop, in ``_handle_rtp_packet``), instead of on a decoder thread."""

    def __init__(self, receiver: Any) -> None:
        super().__init__(track=None)
        self._receiver = receiver

    @property
    def _out(self) -> asyncio.Queue[Any]:
        return self._receiver._track._queue  # the track exists by the time packets arrive

    def _forwardable(self, codec: Any) -> bool:
        return False

    def put(self, task: Any) -> None:
        super().put(task)
        following = getattr(task[1], "following", None) if task is not None else None
        if following:
            # frames the jitter buffer released together with this one (AudioJitterBuffer
            # catching up): same codec, later timestamps, mapped as aiortc maps the first
            mapper = self._receiver._RTCRtpReceiver__timestamp_mapper
            for frame in following:
                frame.timestamp = mapper.map(frame.timestamp)
                super().put((task[0], frame))


def _patch_inline_audio_codecs() -> None:
    from aiortc import rtcrtpsender
    from aiortc.codecs import get_encoder

    receiver_cls = rtcrtpreceiver.RTCRtpReceiver
    if not getattr(receiver_cls, "_voicedesk_inline", False):
        original_init = receiver_cls.__init__

        def __init__(self: Any, kind: str, *args: Any, **kwargs: Any) -> None:
            original_init(self, kind, *args, **kwargs)
            if kind == "audio":
                self._RTCRtpReceiver__decoder_queue = InlineDecodeQueue(self)

        _replace(receiver_cls, "__init__", __init__)
        _replace(receiver_cls, "_voicedesk_inline", True)

    sender_cls = rtcrtpsender.RTCRtpSender
    if getattr(sender_cls, "_voicedesk_inline", False):
        return
    original_next = sender_cls._next_encoded_frame

    async def _next_encoded_frame(self: Any, codec: Any) -> Any:
        """aiortc 1.16's method, except that audio frames are encoded inline."""
        if self.kind != "audio":
            return await original_next(self, codec)
        data = await self._RTCRtpSender__track.recv()
        if not self._enabled:  # read and dropped, as aiortc does, so frames do not pile up
            return None
        if self._RTCRtpSender__encoder is None:
            self._RTCRtpSender__encoder = get_encoder(codec)
        encoder = self._RTCRtpSender__encoder
        audio_level = None
        if isinstance(data, av.AudioFrame):
            audio_level = rtp.compute_audio_level_dbov(data)
            payloads, timestamp = encoder.encode(data, False)
        else:
            payloads, timestamp = encoder.pack(data)
        if not payloads:
            return None
        return rtcrtpsender.RTCEncodedFrame(payloads, timestamp, audio_level)

    _replace(sender_cls, "_next_encoded_frame", _next_encoded_frame)
    _replace(sender_cls, "_voicedesk_inline", True)


# 6. telephone-events (RFC 4733) -----------------------------------------------------
TELEPHONE_EVENT = "audio/telephone-event"
# Chrome's payload types and order (after its audio codecs): the /48000 one goes with Opus
TELEPHONE_EVENT_CODECS = ((48000, 110), (8000, 126))
TelephoneEventListener = Callable[[Any, int], None]  # (RtpPacket, clock rate)


def _install_telephone_events() -> None:
    from aiortc import codecs
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters

    audio = list(codecs.CODECS["audio"])
    for clock, payload_type in TELEPHONE_EVENT_CODECS:
        audio.append(RTCRtpCodecParameters(mimeType=TELEPHONE_EVENT, clockRate=clock, payloadType=payload_type))
    _replace(codecs.CODECS, "audio", audio)

    receiver_cls = rtcrtpreceiver.RTCRtpReceiver
    original = receiver_cls._handle_rtp_packet

    @functools.wraps(original)
    async def _handle_rtp_packet(self: Any, packet: Any, arrival_time_ms: int) -> None:
        codec = self._RTCRtpReceiver__codecs.get(packet.payload_type)
        if codec is None or codec.mimeType.lower() != TELEPHONE_EVENT:
            await original(self, packet, arrival_time_ms=arrival_time_ms)
            return
        if not self._enabled:
            return
        # counted as aiortc counts every packet of the stream (its RTCP receiver reports):
        # the event packets take sequence numbers from the audio, they are not lost audio
        streams = self._RTCRtpReceiver__remote_streams
        if packet.ssrc not in streams:
            streams[packet.ssrc] = rtcrtpreceiver.StreamStatistics(codec.clockRate)
        stream = streams[packet.ssrc]
        audio = (stream._jitter_q4, stream._last_arrival, stream._last_timestamp)
        stream.add(packet)
        if audio[1] is not None:
            # ...but the RFC 3550 jitter stays the audio's: every packet of an event carries
            # the event's start timestamp, which would read as 100 ms of jitter per key
            stream._jitter_q4, stream._last_arrival, stream._last_timestamp = audio
        listener = getattr(self, "_voicedesk_telephone_events", None)
        if listener is not None:
            try:
                listener(packet, codec.clockRate)
            except Exception:  # a listener must not break the receive loop
                logger.exception("telephone-event listener failed")

    _replace(receiver_cls, "_handle_rtp_packet", _handle_rtp_packet)


def _telephone_event_conflict() -> str | None:
    from aiortc import codecs, rtcpeerconnection

    if rtcpeerconnection.CODECS is not codecs.CODECS:
        return "aiortc.rtcpeerconnection no longer negotiates from aiortc.codecs.CODECS"
    table = codecs.CODECS
    if any(c.mimeType.lower() == TELEPHONE_EVENT for c in table.get("audio", [])):
        return "aiortc has a telephone-event codec of its own"
    used = {c.payloadType for kind in table.values() for c in kind}
    taken = [pt for _, pt in TELEPHONE_EVENT_CODECS if pt in used]
    if taken:
        return f"aiortc already uses payload type {taken[0]}"
    return None


def telephone_events_applied() -> bool:
    """Patch 6 is on in this process (applying the patches first): telephone-events are
    negotiated, and ``observe_telephone_events`` / ``rewrite_sent_rtp`` take effect."""
    apply()
    return _is_applied(6)


def observe_telephone_events(receiver: Any, listener: TelephoneEventListener) -> bool:
    """Call ``listener(packet, clock_rate)`` for every telephone-event packet ``receiver``
    gets (they never reach its audio track). False, changing nothing, when patch 6 is not
    applied: then no telephone-event was negotiated either."""
    if not telephone_events_applied():
        return False
    receiver._voicedesk_telephone_events = listener
    return True


def rewrite_sent_rtp(sender: Any, rewrite: Callable[[bytes], list[bytes]]) -> bool:
    """Send ``rewrite(packet)`` (zero or more packets) in place of every RTP packet
    ``sender`` sends, serialized and before SRTP; RTCP and other senders' packets pass.

    aiortc's ``_run_rtp`` hands each packet to ``self.transport._send_rtp``; the DTLS
    transport, shared by the senders of a BUNDLE, gets an instance-level ``_send_rtp`` that
    picks the rewrite by SSRC (transports without one are untouched). False, changing
    nothing, when patch 6 is not applied."""
    if not telephone_events_applied():
        return False
    transport = sender.transport
    rewrites: dict[int, Callable[[bytes], list[bytes]]] | None = getattr(transport, "_voicedesk_rewrites", None)
    if rewrites is None:
        rewrites = {}
        send = transport._send_rtp  # the class's method, bound

        async def _send_rtp(data: bytes) -> None:
            chosen = rewrites.get(int.from_bytes(data[8:12], "big")) if len(data) >= 12 else None
            if chosen is None or rtp.is_rtcp(data):
                await send(data)
                return
            try:
                packets = chosen(data)
            except Exception:  # aiortc's send loop would end on it: send the audio as it was
                logger.exception("RTP rewrite failed; packet sent unchanged")
                packets = [data]
            for packet in packets:
                await send(packet)

        transport._voicedesk_rewrites = rewrites
        transport._send_rtp = _send_rtp
    rewrites[sender._ssrc] = rewrite
    return True


# 7. audio level of encoded packets (RFC 6464) ------------------------------------
def set_packet_audio_level(packet: av.Packet, level: int | None) -> None:
    """Let an encoded packet carry its RFC 6465 level (dBov, -127..0) to the sender."""
    if level is not None:
        packet.opaque = {"audio_level": int(level)}


def packet_audio_level(packet: Any) -> int | None:
    """The level (dBov) a packet carries, or None (none set, or not a packet)."""
    opaque = getattr(packet, "opaque", None)
    return opaque.get("audio_level") if isinstance(opaque, dict) else None


def received_audio_level(packet: Any) -> int | None:
    """The RFC 6464 level of a received RTP packet in dBov, or None when it carries none."""
    extensions = getattr(packet, "extensions", None)
    level = getattr(extensions, "audio_level", None)
    return -int(level[1]) if level is not None else None


def _install_packet_audio_level() -> None:
    from aiortc import rtcrtpsender
    from aiortc.codecs.opus import OpusEncoder

    if not getattr(OpusEncoder, "_voicedesk_level", False):
        original_pack = OpusEncoder.pack

        def pack(self: Any, packet: Any) -> tuple[list[bytes], int]:
            self._voicedesk_packet_level = packet_audio_level(packet)
            return original_pack(self, packet)

        _replace(OpusEncoder, "pack", pack)
        _replace(OpusEncoder, "_voicedesk_level", True)

    sender_cls = rtcrtpsender.RTCRtpSender
    if getattr(sender_cls, "_voicedesk_packet_level", False):
        return
    next_frame = sender_cls._next_encoded_frame  # stock, or patch 5's: this wraps either

    async def _next_encoded_frame(self: Any, codec: Any) -> Any:
        frame = await next_frame(self, codec)
        if frame is not None and frame.audio_level is None:  # a packet, not a frame aiortc encoded
            encoder = self._RTCRtpSender__encoder
            frame.audio_level = getattr(encoder, "_voicedesk_packet_level", None)
        return frame

    _replace(sender_cls, "_next_encoded_frame", _next_encoded_frame)
    _replace(sender_cls, "_voicedesk_packet_level", True)


_RECEIVER = "rtcrtpreceiver.RTCRtpReceiver"
_SENDER = "rtcrtpsender.RTCRtpSender"
PATCHES: tuple[Patch, ...] = (
    Patch(
        1,
        "audio jitter buffer",
        (
            ("rtcrtpreceiver.JitterBuffer", ()),
            (f"{_RECEIVER}.__init__", ("JitterBuffer",)),  # looked up when a receiver is made
            (f"{_RECEIVER}._handle_rtp_packet", ("_RTCRtpReceiver__jitter_buffer", "_data")),
            ("jitterbuffer.JitterBuffer.__init__", ("_packets", "_origin", "_capacity", "_prefetch")),
            ("jitterbuffer.JitterBuffer.add", ("_remove_frame",)),  # the method AudioJitterBuffer overrides
            ("jitterbuffer.JitterBuffer.remove", ("_packets", "_origin", "_capacity")),
            ("jitterbuffer.JitterFrame", ()),
        ),
        _install_jitter_buffer,
    ),
    Patch(
        2,
        "audio level",
        (
            ("rtp.compute_audio_level_dbov", ()),
            ("rtcrtpsender.rtp", ()),
            # the sender reads it through the module at every frame, so rebinding it there is enough
            (f"{_SENDER}._next_encoded_frame", ("rtp", "compute_audio_level_dbov")),
        ),
        _install_audio_level,
    ),
    Patch(
        3,
        "bounded received-audio queue",
        (
            ("rtcrtpreceiver.RemoteStreamTrack.__init__", ("_queue",)),
            ("rtcrtpreceiver.RemoteStreamTrack.recv", ("_queue",)),
        ),
        _patch_remote_track_queue,
    ),
    Patch(
        4,
        "encoded forwarding",
        (
            ("rtcrtpreceiver.decoder_worker", ()),
            (f"{_RECEIVER}.receive", ("decoder_worker", "_RTCRtpReceiver__decoder_queue")),  # starts the thread
            (f"{_RECEIVER}.__init__", ("_RTCRtpReceiver__decoder_queue", "_RTCRtpReceiver__jitter_buffer", "_track")),
            (f"{_RECEIVER}._handle_rtp_packet", ("_RTCRtpReceiver__jitter_buffer", "_RTCRtpReceiver__decoder_queue")),
            ("rtcrtpreceiver.RemoteStreamTrack.__init__", ("_queue",)),
            ("jitterbuffer.JitterFrame", ()),
            ("codecs.get_decoder", ()),
        ),
        _patch_decoder_worker,
    ),
    Patch(
        5,
        "inline audio codecs",
        (
            (
                f"{_RECEIVER}.__init__",
                ("_RTCRtpReceiver__decoder_queue", "_RTCRtpReceiver__timestamp_mapper", "_track"),
            ),
            (
                f"{_RECEIVER}._handle_rtp_packet",
                ("_RTCRtpReceiver__decoder_queue", "_RTCRtpReceiver__timestamp_mapper"),
            ),
            ("rtcrtpreceiver.TimestampMapper.map", ()),
            (f"{_SENDER}._run_rtp", ("_next_encoded_frame",)),
            (f"{_SENDER}.replaceTrack", ("_RTCRtpSender__track",)),
            (f"{_SENDER}.__init__", ("_RTCRtpSender__encoder", "_enabled")),
            (f"{_SENDER}._next_encoded_frame", ("_RTCRtpSender__track", "_RTCRtpSender__encoder", "_enabled")),
            ("rtcrtpsender.RTCEncodedFrame", ()),
            ("rtp.compute_audio_level_dbov", ()),
            ("codecs.get_encoder", ()),
        ),
        _patch_inline_audio_codecs,
        after=(4,),  # aiortc still starts a decoder thread: patch 4's decoder_worker lets it end at once
        copied_from="1.16",  # _next_encoded_frame
    ),
    Patch(
        6,
        "telephone-events",
        (
            ("codecs.CODECS", ()),
            ("rtcpeerconnection.CODECS", ()),  # offers and answers read the same table
            ("rtcrtpparameters.RTCRtpCodecParameters", ()),
            (
                f"{_RECEIVER}._handle_rtp_packet",
                ("_RTCRtpReceiver__codecs", "_RTCRtpReceiver__remote_streams", "StreamStatistics", "_enabled"),
            ),
            ("rtcrtpreceiver.StreamStatistics.add", ("_jitter_q4", "_last_arrival", "_last_timestamp")),
            # the sender hook: every packet goes through self.transport._send_rtp, numbered by this SSRC
            (f"{_SENDER}._run_rtp", ("transport", "_send_rtp", "_ssrc")),
            ("rtcdtlstransport.RTCDtlsTransport._send_rtp", ()),
            ("rtp.is_rtcp", ()),
        ),
        _install_telephone_events,
        conflict=_telephone_event_conflict,
    ),
    Patch(
        7,
        "audio level of encoded packets",
        (
            ("codecs.opus.OpusEncoder.pack", ()),
            (f"{_SENDER}._next_encoded_frame", ("_RTCRtpSender__encoder",)),
            (f"{_SENDER}._run_rtp", ("audio_level",)),  # writes the extension from the frame's level
            ("rtcrtpsender.RTCEncodedFrame", ()),
        ),
        _install_packet_audio_level,  # after 5 in this list: it wraps whichever _next_encoded_frame is there
    ),
)
