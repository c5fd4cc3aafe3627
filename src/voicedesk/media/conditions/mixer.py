"""``ConditionedTrack``: the caller's source with its conditions mixed in, before encoding.

It wraps the source track (which keeps pacing the call: one ``recv`` each 20 ms) and, per
frame, applies the caller's volume and clipping, adds noise, echo and inserts, and keeps
what a report needs: the caller's clock (samples sent), 20 ms levels of the caller's own
speech and of what it received (on the same clock), and every insert with where it went.
The work per frame is a few numpy operations on 960 samples (bench/conditions_timing.py).
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, cast

import av
import numpy as np
from aiortc.mediastreams import MediaStreamTrack

from voicedesk.media.conditions.echo import EchoPath
from voicedesk.media.conditions.inserts import InsertScheduler
from voicedesk.media.conditions.noise import NoiseMixer
from voicedesk.media.conditions.spec import Conditions
from voicedesk.media.pcm import SAMPLE_RATE, SILENCE_DBFS, frame_to_mono, level_dbfs, mono_to_frame


@dataclass(frozen=True)
class SplitSentence:
    """A sentence said in two halves with silence between (the pause condition), caller samples."""

    start: int
    first_end: int  # the first half's last sound
    second_start: int
    end: int

    def to_json(self) -> dict[str, float]:
        ms = 1000 / SAMPLE_RATE
        return {
            "start_ms": round(self.start * ms, 1),
            "first_half_end_ms": round(self.first_end * ms, 1),
            "second_half_start_ms": round(self.second_start * ms, 1),
            "end_ms": round(self.end * ms, 1),
            "pause_ms": round((self.second_start - self.first_end) * ms, 1),
        }


class ConditionedTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(
        self,
        source: MediaStreamTrack,
        conditions: Conditions,
        *,
        noise_loop: np.ndarray | None = None,
        insert_clips: dict[str, np.ndarray] | None = None,
        speech_rms: float | None = None,
        splits: list[SplitSentence] | None = None,
    ) -> None:
        super().__init__()
        self.source = source
        self.conditions = conditions
        # sources with an end say so through played_out (call --hangup-after-source waits on it)
        played_out = getattr(source, "played_out", None)
        if played_out is not None:
            self.played_out = played_out
        voice = conditions.voice
        self._gain = np.float32(10 ** ((voice.volume_db + voice.clip_db) / 20))
        self._clip = voice.clip_db > 0
        self.noise = (
            NoiseMixer(noise_loop, conditions.noise.snr_db, conditions.seed, speech_rms)
            if conditions.noise is not None and noise_loop is not None
            else None
        )
        echo = conditions.echo
        self.echo = EchoPath(echo.delay_ms, echo.erl_db, echo.speaker) if echo is not None else None
        self.inserts = InsertScheduler(conditions.inserts, insert_clips or {}) if conditions.inserts else None
        self.splits = list(splits or [])
        self.position = 0  # caller samples sent so far: the caller's clock
        self.started_at: float | None = None  # time.monotonic() of the first frame
        self.clipped_samples = 0
        self.speech_dbfs: list[float] = []  # per sent frame: the caller's own speech (after volume)
        self.received_dbfs: list[tuple[int, float]] = []  # (caller sample at arrival, level)
        # seconds each recent frame's mixing took (bench/conditions_timing.py): the last minute, not a
        # list that grows for as long as the call lasts
        self.mix_s: deque[float] = deque(maxlen=3000)
        self.notes: list[str] = []  # conditions that could not apply, in words (the builder adds them)

    def caller_sample(self, at: float | None = None) -> int:
        """The caller's clock (samples since the first frame) at monotonic time ``at`` (now)."""
        if self.started_at is None:
            return 0
        return int(((time.monotonic() if at is None else at) - self.started_at) * SAMPLE_RATE)

    def add_split(self, started_at: float, first_end: int, second_start: int, length: int) -> None:
        """A split sentence a scripted caller just said: its first sample went out at monotonic
        ``started_at``; the offsets are samples from there."""
        start = self.caller_sample(started_at)
        self.splits.append(SplitSentence(start, start + first_end, start + second_start, start + length))

    def received(self, samples: np.ndarray) -> None:
        """A block of the agent's audio arrived (a sink on the call feeds this)."""
        if self.started_at is None:
            return
        position = self.caller_sample()
        level = level_dbfs(samples)
        self.received_dbfs.append((position, level))
        if self.echo is not None:
            self.echo.received(samples)
        if self.inserts is not None:
            self.inserts.received(samples.size, level, position, self.position)

    async def recv(self) -> av.AudioFrame:
        frame = cast(av.AudioFrame, await self.source.recv())
        began = time.perf_counter()
        if self.started_at is None:
            self.started_at = time.monotonic()
        speech = frame_to_mono(frame) * self._gain
        if self._clip:
            self.clipped_samples += int(np.count_nonzero(np.abs(speech) >= 1.0))
            np.clip(speech, -1.0, 1.0, out=speech)
        power = float(np.dot(speech, speech)) / speech.size if speech.size else 0.0
        self.speech_dbfs.append(10 * math.log10(power) if power > 1e-12 else SILENCE_DBFS)
        mix = speech  # a new array already (the gain made it): mixed into in place
        if self.noise is not None:
            mix += self.noise.next(mix.size, power)
        if self.echo is not None:
            echo = self.echo.next(mix.size, self.position)
            if echo is not None:
                mix += echo
        if self.inserts is not None:
            self.inserts.mix(mix, self.position)
        self.position += mix.size
        out = mono_to_frame(mix, frame.pts, frame.sample_rate)
        self.mix_s.append(time.perf_counter() - began)
        return out

    def stop(self) -> None:
        super().stop()
        self.source.stop()

    def report(self) -> dict[str, Any]:
        """What was inserted and when, on the caller's clock (ms since its first frame)."""
        out: dict[str, Any] = {"conditions": self.conditions.describe(), "seed": self.conditions.seed}
        if self.noise is not None and self.conditions.noise is not None:
            measured = self.noise.measured_snr_db
            out["noise"] = {
                **self.conditions.noise.to_json(),
                "snr_db_sent": None if measured is None else round(measured, 2),
            }
        if self.echo is not None and self.conditions.echo is not None:
            echo = self.echo
            fed = echo.first_fed_at
            note = None
            if not echo.received_samples:
                note = "nothing received yet: there was no agent audio to feed back"
            elif fed is None:
                note = "nothing fed back: the agent's audio was silent"
            out["echo"] = {
                **self.conditions.echo.to_json(),
                "first_fed_back_ms": None if fed is None else round(fed * 1000 / SAMPLE_RATE, 1),
                "fed_back_ms": round(echo.fed_back_samples * 1000 / SAMPLE_RATE, 1),
                **({"note": note} if note else {}),
            }
        if self.inserts is not None:
            out["backchannels"] = self.inserts.to_json()
            missing = self.inserts.missing()
            if missing:
                out["backchannels_not_inserted"] = [
                    {**m.to_json(), "note": f"the agent never spoke a stretch {m.turn}"} for m in missing
                ]
        if self.splits:
            out["pauses"] = [s.to_json() for s in self.splits]
        if self.notes:
            out["notes"] = list(self.notes)
        if self.conditions.voice.to_json():
            out["voice"] = {**self.conditions.voice.to_json(), "clipped_samples": self.clipped_samples}
        return out


def unconditioned(track: MediaStreamTrack) -> MediaStreamTrack:
    """The caller's own source under its conditions (a microphone whose device a view shows)."""
    return track.source if isinstance(track, ConditionedTrack) else track
