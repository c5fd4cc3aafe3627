"""Conversational load callers, cheap enough to run by the hundred.

A talking caller says prepared utterances and waits for each reply, measuring
voice-to-voice every turn, at little more than a tone caller's cost:

- every utterance is rendered (espeak-ng, a file, a tone) and Opus-encoded once per
  process; each call sends those packets as they are (``TalkingTrack``), with the
  RFC 6465 level of each packet attached (aiortc_patches patch 7 writes it into the
  RFC 6464 header extension), and encoded digital silence in between;
- the reply's onset is found from what each received packet already says, without
  decoding (``OnsetDetector``): the RFC 6464 audio level the sender put on it (aiortc
  and browsers put one on every packet they encode; VoiceDesk's forwarding echo passes
  the caller's on), else the Opus packet's size (libopus codes digital silence and DTX
  in a few bytes, any sound in tens to hundreds), and only where neither is there
  (another codec, or ``onset="decoded"``) by decoding and measuring the level.
  Every turn says which method found its onset.

The definitions are qa/latency.py's (a scenario's): voice-to-voice = reply onset −
utterance end; the reply is speech received after the utterance began (an echo's
reply begins before the utterance ends: a negative figure, reported as it is).
Times are when the packet came off the network on this loop, before any jitter
buffer (a decoding receiver adds its buffer's ~40 ms on top).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import av
import numpy as np
from aiortc.codecs.opus import OpusEncoder
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from voicedesk.errors import ConfigError
from voicedesk.media.pcm import FRAME_SAMPLES, SAMPLE_RATE, TIME_BASE, mono_to_frame
from voicedesk.media.tracks import FramePacer
from voicedesk.rtc import aiortc_patches
from voicedesk.rtc.encoded import encode_blocks, outgoing

SPEECH_DBOV = -50  # qa/latency.py's floor: never call anything quieter than this speech
SILENT_OPUS_BYTES = 10  # libopus: digital silence / DTX is 1–3 bytes; any sound at 20 ms is far more
REPLY_HANG_S = 0.7  # qa/runner.py's REPLY_HANG_MS: a pause this long ends a reply
ONSET_METHODS = ("auto", "audio-level", "opus-size", "decoded")


@dataclass(frozen=True)
class PreparedUtterance:
    """One utterance as Opus packets and 20 ms float PCM blocks, with each packet's level (dBov)."""

    spec: str
    opus: tuple[bytes, ...]
    pcm: tuple[np.ndarray, ...]
    levels: tuple[int, ...]

    @property
    def seconds(self) -> float:
        return len(self.opus) * FRAME_SAMPLES / SAMPLE_RATE


def parse_utterance(spec: str) -> Any:
    """``tone:HZ[/SECONDS]``, ``wav:PATH`` or text to speak -> a scenario ``Utterance``."""
    from voicedesk.qa.scenario import Utterance

    spec = spec.strip()
    if not spec:
        raise ConfigError("an utterance to say is empty")
    if spec.startswith("tone:"):
        hz, _, seconds = spec[5:].partition("/")
        try:
            value, length = float(hz), float(seconds or 1.0)
        except ValueError:
            raise ConfigError(f"bad utterance {spec!r}: expected tone:HZ or tone:HZ/SECONDS") from None
        if not (20 <= value <= 20_000 and 0.1 <= length <= 60):
            raise ConfigError(f"bad utterance {spec!r}: expected 20–20000 Hz for 0.1–60 s")
        return Utterance(tone_hz=value, seconds=length)
    if spec.startswith("wav:"):
        return Utterance(wav=spec[4:])
    return Utterance(text=spec)


class Utterances:
    """Each utterance rendered and encoded once per process (a cache keyed by its spec)."""

    _cache: ClassVar[dict[str, PreparedUtterance]] = {}

    @classmethod
    def get(cls, spec: str) -> PreparedUtterance:
        if spec not in cls._cache:
            cls._cache[spec] = cls._prepare(spec)
        return cls._cache[spec]

    @staticmethod
    def _prepare(spec: str) -> PreparedUtterance:
        from voicedesk.qa.runner import Voice, render

        samples = render(parse_utterance(spec), Voice()).astype(np.float32)  # [-1, 1], 48 kHz
        pad = (-samples.size) % FRAME_SAMPLES
        samples = np.concatenate([samples, np.zeros(pad, dtype=np.float32)])
        blocks = tuple(samples[i : i + FRAME_SAMPLES] for i in range(0, samples.size, FRAME_SAMPLES))
        if not blocks:
            raise ConfigError(f"the utterance {spec!r} holds no audio")
        opus, levels = encode_blocks(blocks)
        return PreparedUtterance(spec, tuple(opus), blocks, tuple(levels))


def _silent_opus() -> bytes:
    encoder = OpusEncoder()
    zero = np.zeros(FRAME_SAMPLES, dtype=np.float32)
    packets = [encoder.encode(mono_to_frame(zero, i * FRAME_SAMPLES))[0][0] for i in range(4)]
    return packets[-1]  # past the encoder's start-up: the few bytes of coded silence


SILENT_OPUS = _silent_opus()
SILENT_PCM = np.zeros(FRAME_SAMPLES, dtype=np.float32)


class TalkingTrack(MediaStreamTrack):
    """Coded silence, and prepared utterances when told to say one, paced at 20 ms.

    ``say(u)`` returns when the last packet of ``u`` has been handed to the sender, with
    the times its first and last packets louder than ``SPEECH_DBOV`` went (the
    utterance's start and end as the far end can hear them)."""

    kind = "audio"

    def __init__(self, send_mime: Callable[[], str | None] = lambda: None) -> None:
        super().__init__()
        self.send_mime = send_mime
        self.frames_sent = 0
        self._pacer = FramePacer()
        self._current: PreparedUtterance | None = None
        self._position = 0
        self._spoken: tuple[float | None, float | None] = (None, None)
        self._done: asyncio.Future[tuple[float, float]] | None = None

    async def say(self, utterance: PreparedUtterance) -> tuple[float, float]:
        if self._done is not None and not self._done.done():
            raise RuntimeError("already saying something")
        self._done = asyncio.get_running_loop().create_future()
        self._current, self._position, self._spoken = utterance, 0, (None, None)
        return await self._done

    def stop(self) -> None:
        super().stop()
        if self._done is not None and not self._done.done():
            self._done.cancel()

    async def recv(self) -> Any:
        if self.readyState != "live":
            raise MediaStreamError
        pts = self.frames_sent * FRAME_SAMPLES
        await self._pacer.wait(pts)
        self.frames_sent += 1
        now = time.monotonic()
        opus, pcm, level = SILENT_OPUS, SILENT_PCM, -127
        utterance = self._current
        if utterance is not None:
            i = self._position
            opus, pcm, level = utterance.opus[i], utterance.pcm[i], utterance.levels[i]
            self._position += 1
            if level > SPEECH_DBOV:
                first, _ = self._spoken
                self._spoken = (first if first is not None else now, now + FRAME_SAMPLES / SAMPLE_RATE)
            if self._position >= len(utterance.opus):
                self._current = None
                first, last = self._spoken
                if self._done is not None and not self._done.done():
                    self._done.set_result((first if first is not None else now, last if last is not None else now))
        return outgoing(opus, pcm, level, pts, self.send_mime())


class OnsetDetector:
    """Per received packet (or frame): is it speech, by which method, and when the reply began and ended."""

    def __init__(self, method: str = "auto") -> None:
        if method not in ONSET_METHODS:
            raise ConfigError(f"unknown onset method {method!r}; expected one of {', '.join(ONSET_METHODS)}")
        self.forced = method
        self.method: str | None = None  # what the last packet was read with
        self.decoded = 0  # packets decoded (the costly method), for the record
        self._decoder: Any = None
        self._since: float | None = None
        self.reply_start: float | None = None
        self.last_voiced: float | None = None
        self.onset = asyncio.Event()

    def listen_from(self, since: float) -> None:
        """A new turn: speech from ``since`` on is its reply."""
        self._since = since
        self.reply_start = None
        self.last_voiced = None
        self.onset.clear()

    def feed(self, item: Any, now: float) -> None:
        voiced = self.is_speech(item)
        if voiced and self._since is not None and now >= self._since:
            if self.reply_start is None:
                self.reply_start = now
                self.onset.set()
            self.last_voiced = now

    def is_speech(self, item: Any) -> bool:
        if isinstance(item, av.AudioFrame):  # already decoded by the receiver (a codec it could not forward)
            self.method = "decoded"
            return aiortc_patches.compute_audio_level_dbov(item) > SPEECH_DBOV
        if self.forced in ("auto", "audio-level"):
            level = aiortc_patches.packet_audio_level(item)
            if level is not None:
                self.method = "audio-level"
                return level > SPEECH_DBOV
        if self.forced in ("auto", "opus-size") and self._is_opus(item):
            self.method = "opus-size"
            return int(item.size) > SILENT_OPUS_BYTES
        self.method = "decoded"
        return self._decoded_level(item) > SPEECH_DBOV

    @staticmethod
    def _is_opus(packet: Any) -> bool:
        return isinstance(packet, av.Packet) and packet.time_base == TIME_BASE  # Opus runs its RTP clock at 48 kHz

    def _decoded_level(self, packet: Any) -> int:
        from aiortc.codecs import get_decoder
        from aiortc.jitterbuffer import JitterFrame
        from aiortc.rtcrtpparameters import RTCRtpCodecParameters

        if self._decoder is None:
            opus = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)
            self._decoder = get_decoder(opus)
        self.decoded += 1
        try:
            frames = self._decoder.decode(JitterFrame(data=bytes(packet), timestamp=int(packet.pts or 0)))
        except av.FFmpegError:
            return -127
        return max((aiortc_patches.compute_audio_level_dbov(f) for f in frames), default=-127)


@dataclass(frozen=True)
class TurnMeasure:
    index: int
    said: str
    replied: bool
    voice_to_voice_ms: float | None = None
    response_ms: float | None = None  # utterance start -> reply onset (what an echo's reply is measured by)
    reply_ms: float | None = None
    method: str | None = None  # how the reply onset was found: audio-level, opus-size or decoded
    barge_in_stop_ms: float | None = None  # talked over: how long the reply went on after that


async def _until_quiet(detector: OnsetDetector, ended: Callable[[], bool], give_up_at: float) -> float:
    """Wait until nothing was heard for REPLY_HANG_S; the end of the last speech heard."""
    while not ended():
        last = detector.last_voiced or detector.reply_start or time.monotonic()
        left = last + REPLY_HANG_S - time.monotonic()
        if left <= 0 or time.monotonic() > give_up_at:
            break
        await asyncio.sleep(left)
    last = detector.last_voiced or detector.reply_start or time.monotonic()
    return last + FRAME_SAMPLES / SAMPLE_RATE


async def converse(
    track: TalkingTrack,
    detector: OnsetDetector,
    utterances: list[PreparedUtterance],
    until: float,
    reply_timeout: float,
    pause: float,
    ended: Callable[[], bool],
    on_turn: Callable[[TurnMeasure], None],
    barge_in_ms: float | None = None,
) -> list[TurnMeasure]:
    """Say the utterances in turn, each after the last reply ended, until ``until`` (monotonic).

    A turn started before ``until`` runs to its end. A reply that does not begin within
    ``reply_timeout`` ends the conversation (the turn says so).

    ``barge_in_ms``: talk over each reply that long after it began, with the next utterance,
    and measure how long the agent kept talking (qa/runner.py's barge-in: the interrupted reply
    ends where the received audio falls silent). The agent's answer to the barge-in is waited
    out, not measured (an echo has none), and the turn after it starts afresh."""
    turns: list[TurnMeasure] = []
    await asyncio.sleep(pause)
    index = 0
    while not ended():
        utterance = utterances[index % len(utterances)]
        if time.monotonic() + utterance.seconds > until and turns:
            break
        detector.listen_from(time.monotonic())  # the reply is speech from here on (it may begin mid-utterance)
        start, end = await track.say(utterance)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(detector.onset.wait(), max(0.0, end + reply_timeout - time.monotonic()))
        reply_start = detector.reply_start
        if reply_start is None:
            turn = TurnMeasure(index + 1, utterance.spec, replied=False, method=detector.method)
            turns.append(turn)
            on_turn(turn)
            break
        stop_ms = None
        if barge_in_ms is not None:
            await asyncio.sleep(max(0.0, reply_start + barge_in_ms / 1000.0 - time.monotonic()))
            barged_at = time.monotonic()
            still_talking = detector.last_voiced is not None and barged_at - detector.last_voiced < REPLY_HANG_S
            over = utterances[(index + 1) % len(utterances)]
            await track.say(over)
            reply_end = await _until_quiet(detector, ended, barged_at + reply_timeout + 60.0)
            stop_ms = round((reply_end - barged_at) * 1000.0, 1) if still_talking else None
        else:
            reply_end = await _until_quiet(detector, ended, end + reply_timeout + 60.0)
        turn = TurnMeasure(
            index + 1,
            utterance.spec,
            replied=True,
            voice_to_voice_ms=round((reply_start - end) * 1000.0, 1),
            response_ms=round((reply_start - start) * 1000.0, 1),
            reply_ms=round((reply_end - reply_start) * 1000.0, 1),
            method=detector.method,
            barge_in_stop_ms=stop_ms,
        )
        turns.append(turn)
        on_turn(turn)
        index += 1
        if barge_in_ms is not None:  # the answer to what was said over the reply: waited out
            detector.listen_from(time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(detector.onset.wait(), reply_timeout)
            if detector.reply_start is not None:
                await _until_quiet(detector, ended, time.monotonic() + reply_timeout + 60.0)
            index += 1
        await asyncio.sleep(pause)
    return turns
