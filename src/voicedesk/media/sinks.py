"""Audio sinks: where received audio goes (recorder, analyser, null, several).

A sink is fed mono float32 blocks at 48 kHz through ``write``. ``addTrack`` /
``start`` / ``stop`` let a sink read an aiortc track by itself, like aiortc's
``MediaRecorder``; inside a call one reader feeds every sink through ``TeeSink``
because a track can have only one reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, cast

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from voicedesk.errors import MediaError
from voicedesk.media.pcm import (
    SAMPLE_RATE,
    dominant_frequency,
    frame_to_mono,
    level_dbfs,
)
from voicedesk.media.ringbuffer import RingBuffer
from voicedesk.tasks import cancel_and_wait

logger = logging.getLogger(__name__)


CLIP_LEVEL = 0.999  # |sample| at full scale, after s16 -> float
SILENT_BLOCK_DBFS = -70.0


class GapCounter:
    """Audio that never arrived, read from the frames' timestamps.

    aiortc neither conceals nor fills lost packets: a decoded frame simply
    starts later than the previous one ended, so the jump in pts is the gap."""

    def __init__(self) -> None:
        self.count = 0
        self.missing_ms = 0.0
        self._next_pts: int | None = None

    def frame(self, pts: int | None, samples: int, rate: int) -> None:
        if pts is None:
            return
        if self._next_pts is not None and pts > self._next_pts:
            self.count += 1
            self.missing_ms += (pts - self._next_pts) * 1000.0 / rate
        self._next_pts = pts + samples


class AudioSink:
    """Base sink. Subclasses override ``write`` (cheap, on the loop) and ``close``."""

    def __init__(self) -> None:
        self._track: MediaStreamTrack | None = None
        self._task: asyncio.Task[None] | None = None
        self.gaps = GapCounter()

    def write(self, samples: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the sink holds; safe to call twice."""

    def addTrack(self, track: MediaStreamTrack) -> None:
        self._track = track

    async def start(self) -> None:
        self.start_reading()

    def start_reading(self) -> None:
        """``start`` for callers outside a coroutine (aiortc's event handlers)."""
        if self._track is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._read(self._track), name=f"{type(self).__name__}.read"
            )

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        self.close()

    async def _read(self, track: MediaStreamTrack) -> None:
        resampler: av.AudioResampler | None = None
        while True:
            try:
                frame = cast(av.AudioFrame, await track.recv())
            except MediaStreamError:
                return
            self.gaps.frame(frame.pts, frame.samples, frame.sample_rate)
            if frame.sample_rate != SAMPLE_RATE:
                # narrowband codecs decode at their own rate (PCMU/PCMA 8 kHz); every sink works at 48 kHz
                resampler = resampler or av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
                for converted in resampler.resample(frame):
                    self.write(frame_to_mono(converted))
                continue
            self.write(frame_to_mono(frame))


class CallbackSink(AudioSink):
    """Hands each block to ``on_samples`` (cheap, on the loop): an observer of received audio."""

    def __init__(self, on_samples: Callable[[np.ndarray], None]) -> None:
        super().__init__()
        self.on_samples = on_samples

    def write(self, samples: np.ndarray) -> None:
        self.on_samples(samples)


class NullSink(AudioSink):
    def write(self, samples: np.ndarray) -> None:
        pass


class TeeSink(AudioSink):
    """Feeds several sinks from one reader; a failing child is dropped, not fatal."""

    def __init__(self, sinks: list[AudioSink] | None = None) -> None:
        super().__init__()
        self.sinks: list[AudioSink] = list(sinks or [])

    def write(self, samples: np.ndarray) -> None:
        for sink in list(self.sinks):
            try:
                sink.write(samples)
            except Exception as exc:  # a broken sink must not end the call
                logger.warning("audio sink %s failed and was removed: %s", type(sink).__name__, exc)
                self.sinks.remove(sink)
                with contextlib.suppress(Exception):
                    sink.close()

    def close(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:
                logger.warning("closing audio sink %s failed: %s", type(sink).__name__, exc)


class WavRecorderSink(AudioSink):
    """Writes 16-bit mono 48 kHz WAV.

    ``wave`` rewrites the header after every block, so the file on disk is a
    playable WAV at any moment, even if the process dies mid-call.
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "wb")
        except OSError as exc:
            raise MediaError(f"cannot record to {self.path}: {exc.strerror or exc}") from exc
        self._wav: wave.Wave_write | None = wave.open(self._file, "wb")
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(SAMPLE_RATE)
        self.samples_written = 0

    def write(self, samples: np.ndarray) -> None:
        if self._wav is None:
            return
        pcm = np.clip(samples * 32768.0, -32768, 32767).astype("<i2")
        self._wav.writeframes(pcm.tobytes())
        self._file.flush()
        self.samples_written += samples.size

    def close(self) -> None:
        if self._wav is not None:
            self._wav.close()
            self._file.close()
            self._wav = None


class AnalyzerSink(AudioSink):
    """Keeps the last seconds of audio for meters, waveforms and the call summary."""

    def __init__(self, seconds: float = 5.0) -> None:
        super().__init__()
        self.ring = RingBuffer(int(seconds * SAMPLE_RATE))
        self.frames = 0
        self.samples = 0
        self.clipped_samples = 0
        self.silent_samples = 0  # in blocks below SILENT_BLOCK_DBFS: silence where the peer may have spoken
        self.last_block_dbfs = level_dbfs(np.zeros(0))

    def write(self, samples: np.ndarray) -> None:
        self.ring.write(samples)
        self.frames += 1
        self.samples += samples.size
        self.last_block_dbfs = level_dbfs(samples)
        self.clipped_samples += int(np.count_nonzero(np.abs(samples) >= CLIP_LEVEL))
        if self.last_block_dbfs < SILENT_BLOCK_DBFS:
            self.silent_samples += samples.size

    def level_dbfs(self, seconds: float = 1.0) -> float:
        return level_dbfs(self.ring.latest(int(seconds * SAMPLE_RATE)))

    def peak_hz(self, seconds: float = 1.0) -> float | None:
        return dominant_frequency(self.ring.latest(int(seconds * SAMPLE_RATE)))


class StereoRecorderSink(AudioSink):
    """Both directions in one 16-bit 48 kHz stereo WAV: left = sent, right = received.

    Feed sent audio to ``write_sent`` (an observer of the call's outbound track)
    and received audio to ``write`` (it is the call's sink). The two arrive on
    different schedules, so each is placed on one shared wall clock: a block that
    arrives more than ``tolerance_ms`` later than the channel's audio so far
    reaches is preceded by silence (a stall, lost packets, audio not yet
    started), and a channel that has said nothing for ``hold_ms`` is taken as
    silent. An echo therefore sits in the right channel one round trip after its
    original in the left. Like ``WavRecorderSink``, the header is rewritten after
    every block, so the file is playable even if the process dies.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        hold_ms: float = 300.0,
        tolerance_ms: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: BinaryIO | None = open(self.path, "wb")
        except OSError as exc:
            raise MediaError(f"cannot record to {self.path}: {exc.strerror or exc}") from exc
        self._wav: wave.Wave_write | None = wave.open(self._file, "wb")
        self._wav.setnchannels(2)
        self._wav.setsampwidth(2)
        self._wav.setframerate(SAMPLE_RATE)
        self._clock = clock
        self._hold = int(SAMPLE_RATE * hold_ms / 1000)
        self._tolerance = int(SAMPLE_RATE * tolerance_ms / 1000)
        self._t0: float | None = None
        self._pending: list[list[np.ndarray]] = [[], []]
        self._started = [False, False]
        self._end = [0, 0]  # position (samples since t0) where each channel's audio so far ends
        self._committed = 0
        self.padded_samples = [0, 0]  # silence inserted per channel to keep them aligned
        self.samples_written = 0

    def write_sent(self, samples: np.ndarray) -> None:
        self._add(0, samples)

    def write(self, samples: np.ndarray) -> None:
        self._add(1, samples)

    def _wall(self) -> int:
        assert self._t0 is not None
        return int((self._clock() - self._t0) * SAMPLE_RATE)

    def _add(self, channel: int, samples: np.ndarray) -> None:
        if self._wav is None:
            return
        samples = np.asarray(samples, dtype=np.float32)
        if self._t0 is None:  # the first block ends now: the recording starts when it began
            self._t0 = self._clock() - samples.size / SAMPLE_RATE
        start_by_clock = self._wall() - samples.size
        first = not self._started[channel]
        self._started[channel] = True
        # a channel's first block is placed exactly; later ones only when they are clearly late
        if start_by_clock - self._end[channel] > (0 if first else self._tolerance):
            self._pad(channel, start_by_clock - self._end[channel])
        self._pending[channel].append(samples.copy())
        self._end[channel] += samples.size
        self._commit()

    def _pad(self, channel: int, count: int) -> None:
        if count > 0:
            self._pending[channel].append(np.zeros(count, dtype=np.float32))
            self._end[channel] += count
            self.padded_samples[channel] += count

    def _commit(self, final: bool = False) -> None:
        if final:
            upto = max(self._end)
        else:
            floor = self._wall() - self._hold
            for channel in (0, 1):  # a channel silent for longer than the hold is silent
                self._pad(channel, floor - self._end[channel])
            upto = min(self._end)
        for channel in (0, 1):
            self._pad(channel, upto - self._end[channel])
        count = upto - self._committed
        if count <= 0 or self._wav is None:
            return
        left, right = (self._take(channel, count) for channel in (0, 1))
        pcm = np.clip(np.column_stack((left, right)) * 32768.0, -32768, 32767).astype("<i2")
        self._wav.writeframes(pcm.tobytes())
        assert self._file is not None
        self._file.flush()
        self._committed = upto
        self.samples_written += count

    def _take(self, channel: int, count: int) -> np.ndarray:
        blocks = self._pending[channel]
        joined = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
        self._pending[channel] = [joined[count:]] if joined.size > count else []
        return joined[:count]

    def close(self) -> None:
        if self._wav is None:
            return
        if self._t0 is not None:
            self._commit(final=True)
        self._wav.close()
        if self._file is not None:
            self._file.close()
        self._wav = None
        self._file = None
