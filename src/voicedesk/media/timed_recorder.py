"""A recording of one direction of a call with the time each block passed, and the runs
of speech in it, found by energy on 10 ms frames against the recording's own noise floor
(any agent: TTS, a recorded voice, a tone, an echo; no cooperation needed).

The latency checks (qa/latency.py) and the recognizer's transcription of replies while
the call goes on (rtc/transcription.py) both read calls through these.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from voicedesk.media.pcm import SAMPLE_RATE
from voicedesk.media.sinks import AudioSink

FRAME_MS = 10
FRAME = SAMPLE_RATE * FRAME_MS // 1000
SPEECH_FLOOR_DBFS = -50.0  # never call anything quieter than this speech
SPEECH_MARGIN_DB = 15.0  # speech is this far above the noise floor
SPEECH_CAP_DBFS = -35.0  # …but anything this loud is sound: an agent that never stops has no "floor"


class TimedRecorder(AudioSink):
    """Every block of a call with the loop time it passed here (a full-call recording).

    ``write`` runs on the event loop (received: the sink reader; sent: the outbound
    observer). The 10 ms frame levels are kept as the audio arrives, so finding speech
    while the call runs costs a scan of levels, not of samples.
    """

    def __init__(self, clock: Callable[[], float] | None = None, max_seconds: float | None = 1800.0) -> None:
        super().__init__()
        self._clock = clock or time.monotonic
        # int16 blocks: half the memory of float32, and what the WAV files hold anyway
        self._blocks: list[np.ndarray] = []
        self._times: list[float] = []  # time the block's first sample passed
        self._starts: list[int] = []  # sample index of each block's first sample
        # dBFS per 10 ms frame, in a buffer that doubles when full: ``levels`` is read on every poll
        # of every call's reply wait, as a view rather than a new array (bench/eval_levels.py: no
        # measurable CPU difference at 4 calls, but no copy that grows with the call either)
        self._levels = np.empty(1024, dtype=np.float64)
        self._n_levels = 0
        self._pending = np.zeros(0, dtype=np.float32)
        self.total = 0
        self.max_samples = None if max_seconds is None else int(max_seconds * SAMPLE_RATE)
        self.truncated = False  # the recording stopped at max_seconds (the call went on)

    def write(self, samples: np.ndarray) -> None:
        if self.max_samples is not None and self.total >= self.max_samples:
            self.truncated = True
            return
        block = np.asarray(samples, dtype=np.float32)
        self._times.append(self._clock())
        self._starts.append(self.total)
        self._blocks.append(np.clip(block * 32768.0, -32768, 32767).astype(np.int16))
        self.total += len(block)
        pending = np.concatenate((self._pending, block)) if self._pending.size else block
        n = pending.size // FRAME
        if n:
            new = frame_levels(pending[: n * FRAME])
            if self._n_levels + new.size > self._levels.size:
                grown = np.empty(max(2 * self._levels.size, self._n_levels + new.size), dtype=np.float64)
                grown[: self._n_levels] = self._levels[: self._n_levels]
                self._levels = grown
            self._levels[self._n_levels : self._n_levels + new.size] = new
            self._n_levels += new.size
        self._pending = pending[n * FRAME :].copy()

    def audio(self) -> np.ndarray:
        """The whole recording, mono float32 at 48 kHz."""
        if not self._blocks:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(self._blocks).astype(np.float32) / 32768.0

    @property
    def levels(self) -> np.ndarray:
        """The frame levels so far (a read-only view: no copy)."""
        view = self._levels[: self._n_levels]
        view.flags.writeable = False
        return view

    @property
    def start_time(self) -> float | None:
        return self._times[0] if self._times else None

    def time_of(self, index: int) -> float | None:
        """Monotonic time sample ``index`` passed here."""
        if not self._starts:
            return None
        b = max(0, bisect.bisect_right(self._starts, index) - 1)
        return self._times[b] + (index - self._starts[b]) / SAMPLE_RATE

    def index_at(self, when: float) -> int:
        """The first sample that passed at or after ``when``."""
        if not self._times:
            return 0
        b = bisect.bisect_left(self._times, when)
        if b >= len(self._times):
            return self.total
        return self._starts[b]

    def segment(self, start_t: float, end_t: float | None = None) -> np.ndarray:
        """Samples from ``start_t`` to ``end_t`` (float32), joining only the blocks in between:
        taken during a call (a reply handed to the recognizer), not a copy of the whole recording."""
        return self.samples(self.index_at(start_t), self.index_at(end_t) if end_t is not None else self.total)

    def samples(self, a: int, b: int) -> np.ndarray:
        """Samples ``a`` to ``b`` (float32): what came since a reader's last look, by index, so a
        stream of reads (a reply fed to the recognizer as it plays) has no gap and no overlap."""
        b = min(b, self.total)
        if b <= a or not self._blocks:
            return np.zeros(0, dtype=np.float32)
        first = max(0, bisect.bisect_right(self._starts, a) - 1)
        last = bisect.bisect_left(self._starts, b)
        joined = np.concatenate(self._blocks[first:last]).astype(np.float32) / 32768.0
        offset = self._starts[first]
        return joined[a - offset : b - offset]


@dataclass(frozen=True)
class SpeechRun:
    start: float  # monotonic seconds
    end: float | None  # None: still going at the end of the recording


def frame_levels(audio: np.ndarray) -> np.ndarray:
    """dBFS of each 10 ms frame."""
    n = audio.size // FRAME
    if n == 0:
        return np.zeros(0)
    frames = audio[: n * FRAME].reshape(n, FRAME).astype(np.float64)
    rms = np.sqrt(np.mean(frames * frames, axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-6))


def speech_threshold(levels: np.ndarray) -> float:
    """Noise floor (10th percentile) plus a margin, within [SPEECH_FLOOR_DBFS, SPEECH_CAP_DBFS]."""
    if levels.size == 0:
        return SPEECH_FLOOR_DBFS
    return min(SPEECH_CAP_DBFS, max(SPEECH_FLOOR_DBFS, float(np.percentile(levels, 10)) + SPEECH_MARGIN_DB))


def speech_runs(
    recorder: TimedRecorder,
    start_t: float | None = None,
    end_t: float | None = None,
    *,
    min_speech_ms: float = 60.0,
    hang_ms: float = 500.0,
    threshold_dbfs: float | None = None,
) -> list[SpeechRun]:
    """Runs of speech in ``recorder`` between two times (pauses shorter than ``hang_ms`` join runs)."""
    all_levels = recorder.levels
    first = recorder.index_at(start_t) // FRAME if start_t is not None else 0
    last = recorder.index_at(end_t) // FRAME if end_t is not None else all_levels.size
    levels = all_levels[first:last]
    if levels.size == 0:
        return []
    threshold = threshold_dbfs if threshold_dbfs is not None else speech_threshold(all_levels)
    loud = levels > threshold
    min_frames = max(1, int(min_speech_ms / FRAME_MS))
    hang_frames = max(1, int(hang_ms / FRAME_MS))
    out: list[SpeechRun] = []
    i, n = 0, loud.size
    while i < n:
        if not loud[i]:
            i += 1
            continue
        start, quiet, j = i, 0, i
        while j < n and quiet < hang_frames:
            quiet = 0 if loud[j] else quiet + 1
            j += 1
        end = j - quiet  # the frame after the last loud one
        if int(np.count_nonzero(loud[start:end])) >= min_frames:
            st = recorder.time_of((first + start) * FRAME)
            closed = quiet >= hang_frames or (end_t is not None and j >= n)
            et = recorder.time_of((first + end) * FRAME) if closed else None
            if st is not None:
                out.append(SpeechRun(st, et))
        i = j
    return out
