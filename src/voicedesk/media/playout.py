"""The playout buffer in front of the speaker: absorbs network jitter without drifting.

The network side ``push``es decoded audio whenever it arrives (on the event
loop); the device's audio thread ``pull``s exactly what the device wants. Two
clocks meet here (the sender's and the sound card's) and they never agree
exactly, so without care the depth, and with it the delay, creeps up or down
for the whole call.

How it behaves:

* It prefills to ``target_ms`` before playing, and again after running dry.
* Running dry while playing is an *underrun* (counted when audio resumes, so
  the end of a call is not one); the gap is played as silence.
* Growing past ``max_ms`` (a burst after a stall) is an *overrun*: the oldest
  audio is dropped down to the target, so delay does not stay high.
* Drift: every second of playing it notes the *smallest* depth it saw (the
  floor the jitter did not eat into) and smooths that over several seconds, so
  a device that pulls in bursts does not steer it. If the smoothed floor stays
  more than ``tolerance_ms`` above the target it drops single samples, spread
  out (at most 1 in 1000, a 0.1 % speed-up nobody hears); if below, it repeats
  single samples. The depth therefore stays near the target for hours. A
  floor far above the target for two seconds running (a burst after the
  network or the loop stalled) is cut back at once, with a 5 ms crossfade.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass

import numpy as np

MAX_CORRECTION = 1000  # at most one sample added or removed per this many played (0.1 %: clocks differ far less)
CATCH_UP = 4  # smoothed floor this many tolerances above the target: cut the excess at once
CROSSFADE_MS = 5.0
FLOOR_SMOOTHING = 0.25  # weight of the newest one-second floor: a device that pulls in bursts must not steer


class PlayoutState(enum.Enum):
    BUFFERING = "buffering"
    PLAYING = "playing"


@dataclass(frozen=True)
class PlayoutStats:
    depth_ms: float
    target_ms: float
    underruns: int
    overruns: int
    dropped_ms: float  # removed for drift and overruns
    inserted_ms: float  # repeated for drift
    played_ms: float  # audio from the network that reached the device
    silence_ms: float  # silence the device played while buffering
    state: PlayoutState


class PlayoutBuffer:
    def __init__(
        self,
        rate: int,
        target_ms: float = 60.0,
        max_ms: float = 300.0,
        tolerance_ms: float = 10.0,
        window_ms: float = 1000.0,
    ) -> None:
        if target_ms < 0 or max_ms <= target_ms:
            raise ValueError("playout buffer needs 0 <= target_ms < max_ms")
        self.rate = int(rate)
        self.target = int(rate * target_ms / 1000)
        self.max = int(rate * max_ms / 1000)
        self.tolerance = int(rate * tolerance_ms / 1000)
        self.window = int(rate * window_ms / 1000)
        self._buf = np.zeros(self.max * 2 + rate, dtype=np.float32)  # room for a burst before the overrun check
        self._start = 0
        self._size = 0
        self._lock = threading.Lock()
        self.state = PlayoutState.BUFFERING
        self.underruns = 0
        self.overruns = 0
        self._starved = False
        self._dropped = 0
        self._inserted = 0
        self._played = 0
        self._silence = 0
        self._window_pulled = 0
        self._window_min: int | None = None
        self._correction = 0  # > 0: samples still to drop; < 0: samples still to repeat
        self._floor: float | None = None  # smoothed low point of the depth, in samples
        self._correction_budget = 0  # samples played since the last correction (rate limit)
        self._catch_up = 0  # samples to cut at the next pull
        self._high_windows = 0

    # network side (event loop) ------------------------------------------
    def push(self, samples: np.ndarray) -> None:
        samples = np.asarray(samples, dtype=np.float32)
        with self._lock:
            if self._starved and samples.size:
                self.underruns += 1
                self._starved = False
            space = self._buf.size - self._size
            if samples.size > space:  # cannot happen unless one push is huge: keep the newest
                samples = samples[-space:] if space else samples[:0]
            self._append(samples)
            if self._size > self.max:
                excess = self._size - self.target
                self._discard(excess)
                self._dropped += excess
                self.overruns += 1
                self._correction = 0
                self._floor = None

    # device side (audio thread): no allocation-heavy work, no logging ---------------
    def pull(self, count: int) -> np.ndarray:
        out = np.zeros(count, dtype=np.float32)
        self.pull_into(out)
        return out

    def pull_into(self, out: np.ndarray) -> None:
        count = out.shape[0]
        with self._lock:
            if self.state == PlayoutState.BUFFERING:
                if self._size < max(self.target, 1):
                    out[:] = 0.0
                    self._silence += count
                    return
                self.state = PlayoutState.PLAYING
                self._window_min = None
                self._window_pulled = 0
            if self._size < count:
                have = self._size
                out[:have] = self._take(have)
                out[have:] = 0.0
                self._played += have
                self._silence += count - have
                self.state = PlayoutState.BUFFERING
                self._starved = True
                self._correction = 0
                self._floor = None
                return
            self._correction_budget = min(self._correction_budget + count, 10 * MAX_CORRECTION)
            step = min(abs(self._correction), self._correction_budget // MAX_CORRECTION) if self._correction else 0
            self._correction_budget -= step * MAX_CORRECTION
            if self._catch_up and self._size >= count + self._catch_up:
                skip, self._catch_up = self._catch_up, 0
                block = self._take(count + skip)
                fade = min(count, int(self.rate * CROSSFADE_MS / 1000))
                out[:] = block[skip:]
                ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
                out[:fade] = block[:fade] * (1.0 - ramp) + block[skip : skip + fade] * ramp  # no click at the cut
                self._dropped += skip
                self._played += count
            elif step and self._correction > 0 and self._size >= count + step:
                block = self._take(count + step)
                keep = np.ones(block.size, dtype=bool)
                keep[np.linspace(0, block.size - 1, step + 2, dtype=int)[1:-1]] = False
                out[:] = block[keep]
                self._correction -= step
                self._dropped += step
                self._played += count
            elif step and self._correction < 0 and count > step:
                block = self._take(count - step)
                positions = np.linspace(0, block.size - 1, step + 2, dtype=int)[1:-1]
                out[:] = np.insert(block, positions, block[positions])
                self._correction += step
                self._inserted += step
                self._played += count
            else:
                out[:] = self._take(count)
                self._played += count
            self._window_pulled += count
            self._track_depth()  # after the pull: the depth's low point, just before the next frame lands

    def _track_depth(self) -> None:
        depth = self._size
        self._window_min = depth if self._window_min is None else min(self._window_min, depth)
        if self._window_pulled < self.window:
            return
        floor = self._window_min
        self._high_windows = self._high_windows + 1 if floor - self.target > CATCH_UP * self.tolerance else 0
        if self._high_windows >= 2:
            # the low point stayed far above the target for two whole seconds (a burst after a stall):
            # slipping 0.1 % would take minutes, so cut the excess at once
            self._catch_up = floor - self.target
            self._floor = float(self.target)
            self._high_windows = 0
            self._correction = 0
        else:
            self._floor = float(floor) if self._floor is None else self._floor + FLOOR_SMOOTHING * (floor - self._floor)
            excess = self._floor - self.target
            # correct only a lasting offset, and only half of it per second: drift is slow, jitter is not
            self._correction = int(excess / 2) if abs(excess) > self.tolerance else 0
        self._window_pulled = 0
        self._window_min = None

    # ring storage ---------------------------------------------------------
    def _append(self, samples: np.ndarray) -> None:
        n = samples.size
        end = (self._start + self._size) % self._buf.size
        first = min(n, self._buf.size - end)
        self._buf[end : end + first] = samples[:first]
        self._buf[: n - first] = samples[first:]
        self._size += n

    def _take(self, n: int) -> np.ndarray:
        first = min(n, self._buf.size - self._start)
        block = np.concatenate((self._buf[self._start : self._start + first], self._buf[: n - first]))
        self._discard(n)
        return block

    def _discard(self, n: int) -> None:
        self._start = (self._start + n) % self._buf.size
        self._size -= n

    # figures ----------------------------------------------------------------
    @property
    def depth_ms(self) -> float:
        return self._size * 1000.0 / self.rate

    def stats(self) -> PlayoutStats:
        ms = 1000.0 / self.rate
        with self._lock:
            return PlayoutStats(
                depth_ms=self._size * ms,
                target_ms=self.target * ms,
                underruns=self.underruns,
                overruns=self.overruns,
                dropped_ms=self._dropped * ms,
                inserted_ms=self._inserted * ms,
                played_ms=self._played * ms,
                silence_ms=self._silence * ms,
                state=self.state,
            )
