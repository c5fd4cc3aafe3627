"""Backchannels and non-speech sounds inserted while the agent talks.

The agent's speech is found in what the caller receives (``AgentSpeechDetector``: a loud
block after a quiet stretch starts the agent's next stretch of speech). Each insert is
asked for ``at_ms`` after the onset of one of those stretches, on the caller's clock, and
placed at exactly that sample of what is sent: mixed into the frame that holds it, from
the sample it asks for. One that is asked for a moment already sent (an onset found late)
goes out at once and says how late it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from voicedesk.media.conditions.spec import InsertSpec
from voicedesk.media.pcm import SAMPLE_RATE

AGENT_SPEECH_DBFS = -45.0  # a received block louder than this is the agent talking
ONSET_QUIET_MS = 300.0  # this much quiet before a loud block makes it a new stretch of speech


class AgentSpeechDetector:
    """Onsets of the agent's speech in the received audio, on the caller's clock (samples)."""

    def __init__(self) -> None:
        self.onsets: list[int] = []
        self._last_loud: int | None = None

    def received(self, count: int, level: float, position: int) -> int | None:
        """A block of ``count`` samples at ``level`` dBFS arrived; ``position``: caller sample at
        which it arrived (its end). A new onset or None."""
        if level <= AGENT_SPEECH_DBFS:
            return None
        start = max(0, position - count)
        quiet = ONSET_QUIET_MS * SAMPLE_RATE / 1000
        onset = None
        if self._last_loud is None or start - self._last_loud >= quiet:
            onset = start
            self.onsets.append(start)
        self._last_loud = position
        return onset


@dataclass
class Placement:
    spec: InsertSpec
    clip: np.ndarray
    asked: int  # caller sample asked for
    placed: int  # caller sample where it starts in what was sent
    sent: int = 0  # samples of the clip already mixed

    @property
    def late_ms(self) -> float:
        return (self.placed - self.asked) * 1000 / SAMPLE_RATE

    def to_json(self, onset: int) -> dict[str, Any]:
        ms = 1000 / SAMPLE_RATE
        return {
            "what": self.spec.what,
            "turn": self.spec.turn,
            "agent_onset_ms": round(onset * ms, 1),
            "asked_ms": round(self.asked * ms, 1),
            "placed_ms": round(self.placed * ms, 1),
            "length_ms": round(self.clip.size * ms, 1),
            "late_ms": round(self.late_ms, 1),
        }


class InsertScheduler:
    def __init__(self, specs: tuple[InsertSpec, ...], clips: dict[str, np.ndarray]) -> None:
        self.specs = specs
        self.clips = clips
        self.detector = AgentSpeechDetector()
        self.placements: list[tuple[int, Placement]] = []  # (agent onset, placement)

    def received(self, count: int, level: float, position: int, sent_up_to: int) -> None:
        """A received block (``count`` samples at ``level`` dBFS: the track measured it once for all)."""
        onset = self.detector.received(count, level, position)
        if onset is None:
            return
        turn = len(self.detector.onsets)
        for spec in self.specs:
            if spec.turn == turn:
                clip = self.clips[spec.what] * np.float32(10 ** (spec.gain_db / 20))
                asked = onset + round(spec.at_ms * SAMPLE_RATE / 1000)
                self.placements.append((onset, Placement(spec, clip, asked, max(asked, sent_up_to))))

    def mix(self, block: np.ndarray, position: int) -> bool:
        """Add what falls in ``block`` (starting at caller sample ``position``); True if anything did."""
        touched = False
        end = position + block.size
        for _, p in self.placements:
            start = p.placed + p.sent
            if p.sent >= p.clip.size or start >= end:
                continue
            offset = start - position
            take = min(p.clip.size - p.sent, block.size - offset)
            block[offset : offset + take] += p.clip[p.sent : p.sent + take]
            p.sent += take
            touched = True
        return touched

    def to_json(self) -> list[dict[str, Any]]:
        return [p.to_json(onset) for onset, p in self.placements]

    def missing(self) -> list[InsertSpec]:
        """Inserts whose agent speech never came (reported, not silently skipped)."""
        placed = {id(p.spec) for _, p in self.placements}
        return [s for s in self.specs if id(s) not in placed]
