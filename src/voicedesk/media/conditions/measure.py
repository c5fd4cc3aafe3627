"""The robustness table: how the agent behaved under the call's conditions.

Read from the recordings' 20 ms levels (the caller's own speech as sent, the agent's audio
as received, both on the caller's clock) and, where the agent sends them, its turn events
(``barge_in``, ``speech_stopped``; placed on the same clock when they arrived):

- self-interruptions: the agent stopped (or stopped and restarted) while the caller was
  silent — under an echo path, its own voice coming back;
- per backchannel: did the agent stop (a false interruption), did it start again, how long
  it stayed silent;
- per split sentence: did the agent take the turn in the pause (its VAD ended the caller's
  turn, or its reply began, before the sentence's second half had ended).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from voicedesk.media.conditions.inserts import AGENT_SPEECH_DBFS
from voicedesk.media.conditions.noise import ACTIVE_DBFS
from voicedesk.media.pcm import FRAME_SAMPLES, SAMPLE_RATE

FRAME_MS = FRAME_SAMPLES * 1000 / SAMPLE_RATE
BRIDGE_MS = 250.0  # quiet shorter than this inside the agent's speech is a word gap, not a stop
RESTART_WITHIN_MS = 4000.0  # speech again within this after a stop is a restart (recovery)
BARGE_LOOKBACK_MS = 1500.0  # a barge-in event follows the agent's speech_started event by at most this
HEARD_WITHIN_MS = 400.0  # the sound an agent's VAD reports began at most this long before the report
STOP_AFTER_INSERT_MS = 1200.0  # the agent stopping this long after an insert ended was caused by it


@dataclass(frozen=True)
class Timeline:
    """What one call measured, on the caller's clock (ms since its first sent frame)."""

    caller_dbfs: Sequence[float]  # per sent 20 ms frame: the caller's own speech
    received: Sequence[tuple[float, float]]  # (ms at arrival, level dBFS) per received block
    inserts: Sequence[dict[str, Any]]  # InsertScheduler.to_json()
    splits: Sequence[dict[str, float]]  # SplitSentence.to_json()
    events: Sequence[tuple[float, dict[str, Any]]]  # (ms at arrival, agent event)
    events_available: bool
    echo: bool

    def caller_sound(self, start_ms: float, end_ms: float) -> bool:
        """Whether the caller made a sound (its speech or an insert) between the two times."""
        a, b = max(0, int(start_ms // FRAME_MS)), int(end_ms // FRAME_MS) + 1
        if any(level > ACTIVE_DBFS for level in self.caller_dbfs[a:b]):
            return True
        return any(i["placed_ms"] < end_ms and i["placed_ms"] + i["length_ms"] > start_ms for i in self.inserts)

    @functools.cached_property
    def agent_spurts(self) -> list[tuple[float, float]]:
        """(start, end) ms of the agent's speech as received, word gaps bridged (read once: each
        measure below takes it)."""
        spurts: list[list[float]] = []
        for at, level in self.received:
            if level <= AGENT_SPEECH_DBFS:
                continue
            start = at - FRAME_MS
            if spurts and start - spurts[-1][1] <= BRIDGE_MS:
                spurts[-1][1] = at
            else:
                spurts.append([start, at])
        return [(a, b) for a, b in spurts]

    def events_of(self, kind: str) -> list[float]:
        return [at for at, e in self.events if e.get("type") == kind]

    def barge_ins(self) -> list[tuple[float, float]]:
        """(barge-in, the ``speech_started`` that caused it) of each barge-in event its VAD caused:
        an agent whose session ends mid-sentence (the hang-up) reports a barge-in too."""
        heard = self.events_of("speech_started")
        out = []
        for t in self.events_of("barge_in"):
            cause = [h for h in heard if 0 <= t - h <= BARGE_LOOKBACK_MS]
            if cause:
                out.append((t, cause[-1]))
        return out


def _spurt_at(spurts: list[tuple[float, float]], t: float) -> tuple[float, float] | None:
    return next((s for s in spurts if s[0] <= t <= s[1] + BRIDGE_MS), None)


def self_interruptions(tl: Timeline) -> dict[str, Any]:
    """The agent stopping while the caller is silent: from its barge-in events when it sends
    them, else from the audio (a stop followed by a restart with the caller silent throughout)."""
    spurts = tl.agent_spurts
    # (start, stop, restart) of each stop followed by a restart with the caller silent throughout
    restarted = [
        (a0, a1, b0)
        for (a0, a1), (b0, _) in itertools.pairwise(spurts)
        if b0 - a1 <= RESTART_WITHIN_MS and not tl.caller_sound(a1 - HEARD_WITHIN_MS, b0)
    ]
    found: list[dict[str, Any]] = []
    if tl.events_available:
        for at, heard in tl.barge_ins():
            # what its VAD heard began at most its start window (plus the trip) before it said so
            if tl.caller_sound(heard - HEARD_WITHIN_MS, heard):
                continue
            spurt = next((s for s in reversed(spurts) if s[0] <= at), None)
            found.append(
                {
                    "at_ms": round(at, 1),
                    "after_ms": None if spurt is None else round(at - spurt[0], 1),
                    "how": "barge_in event",
                }
            )
    else:
        found = [
            {"at_ms": round(a1, 1), "after_ms": round(a1 - a0, 1), "how": "stopped and restarted"}
            for a0, a1, _ in restarted
        ]
    return {"count": len(found), "restarts": len(restarted), "events": found}


def _cause(inserts: Sequence[dict[str, Any]], t: float) -> int | None:
    """The insert a stop at ``t`` is blamed on: the latest to start before it, if it ended
    at most ``STOP_AFTER_INSERT_MS`` before."""
    found = None
    for i, insert in enumerate(inserts):
        if insert["placed_ms"] <= t <= insert["placed_ms"] + insert["length_ms"] + STOP_AFTER_INSERT_MS:
            if found is None or insert["placed_ms"] > inserts[found]["placed_ms"]:
                found = i
    return found


def backchannel_outcomes(tl: Timeline) -> list[dict[str, Any]]:
    spurts = tl.agent_spurts
    # what stopped the agent: its barge-in events when it sends them, else the ends of its speech
    stops = [t for t, _ in tl.barge_ins()] if tl.events_available else [b for _, b in spurts]
    blamed: dict[int, float] = {}
    for t in stops:
        cause = _cause(tl.inserts, t)
        if cause is not None and cause not in blamed:
            blamed[cause] = t
    out = []
    for i, insert in enumerate(tl.inserts):
        start = insert["placed_ms"]
        spurt = _spurt_at(spurts, start)
        speaking = spurt is not None and spurt[1] > start
        interrupted = speaking and i in blamed
        stopped_at = None
        if interrupted:
            # where the agent's audio went quiet: the end of the stretch that was playing
            stopped_at = next((b for a, b in spurts if a <= blamed[i] + BRIDGE_MS and b >= start), blamed[i])
        resumed_at = None
        if stopped_at is not None:
            resumed_at = next((a for a, _ in spurts if stopped_at < a <= stopped_at + RESTART_WITHIN_MS), None)
        out.append(
            {
                "what": insert["what"],
                "placed_ms": insert["placed_ms"],
                "agent_speaking": speaking,
                "false_interruption": interrupted,
                "stopped_after_ms": None if stopped_at is None else round(stopped_at - start, 1),
                "recovered": None if not interrupted else resumed_at is not None,
                "silence_ms": (None if stopped_at is None or resumed_at is None else round(resumed_at - stopped_at, 1)),
            }
        )
    return out


def early_turn_takings(tl: Timeline) -> list[dict[str, Any]]:
    spurts = tl.agent_spurts
    stops = tl.events_of("speech_stopped")
    out = []
    for split in tl.splits:
        first_end, end = split["first_half_end_ms"], split["end_ms"]
        ended_at = next((t for t in stops if first_end < t < end), None) if tl.events_available else None
        reply_at = next((s[0] for s in spurts if first_end < s[0] < end), None)
        out.append(
            {
                "pause_ms": split["pause_ms"],
                "early": ended_at is not None or reply_at is not None,
                "turn_ended_ms": None if ended_at is None else round(ended_at - first_end, 1),
                "reply_onset_ms": None if reply_at is None else round(reply_at - first_end, 1),
            }
        )
    return out


def robustness(tl: Timeline) -> dict[str, Any]:
    """The table: counts for ``expect:`` and CI, and the detail behind each."""
    selfish = self_interruptions(tl)
    backchannels = backchannel_outcomes(tl)
    pauses = early_turn_takings(tl)
    return {
        "self_interruptions": selfish["count"] if tl.echo else None,
        "self_interruption_after_ms": (
            min((e["after_ms"] for e in selfish["events"] if e["after_ms"] is not None), default=None)
            if tl.echo
            else None
        ),
        "false_interruptions": sum(1 for b in backchannels if b["false_interruption"]) if backchannels else None,
        "unrecovered_interruptions": (
            sum(1 for b in backchannels if b["false_interruption"] and not b["recovered"]) if backchannels else None
        ),
        "early_turn_takings": sum(1 for p in pauses if p["early"]) if pauses else None,
        "from_events": tl.events_available,
        "self_interruption_detail": selfish if tl.echo else None,
        "backchannels": backchannels,
        "pauses": pauses,
    }


ROBUSTNESS_METRICS = {
    "self_interruptions": "times the agent stopped while the caller was silent (echo path)",
    "self_interruption_after_ms": "the soonest the agent interrupted itself after it began speaking",
    "false_interruptions": "backchannels or sounds that stopped the agent",
    "unrecovered_interruptions": "false interruptions after which the agent did not speak again within 4 s",
    "early_turn_takings": "split sentences whose pause the agent took as the end of the turn",
    "noise_snr_db": "the SNR of the noise actually sent, dB",
}


def table_lines(robust: dict[str, Any], conditions: dict[str, Any]) -> list[str]:
    """The table as the CLI prints it."""

    def n(value: Any) -> str:
        return "n/a" if value is None else str(value)

    lines = [f"conditions     {conditions.get('conditions', 'none')} (seed {conditions.get('seed', 0)})"]
    noise = conditions.get("noise")
    if noise:
        lines.append(f"  noise        asked {noise['snr_db']:g} dB SNR, sent {n(noise.get('snr_db_sent'))} dB")
    echo = conditions.get("echo")
    if echo:
        lines.append(
            f"  echo         {echo.get('note') or 'fed back from ' + n(echo.get('first_fed_back_ms')) + ' ms'}; "
            f"self-interruptions {n(robust.get('self_interruptions'))}"
            + (
                f", first {robust['self_interruption_after_ms']:.0f} ms into its speech"
                if robust.get("self_interruption_after_ms") is not None
                else ""
            )
        )
    for b in robust.get("backchannels") or []:
        outcome = (
            f"stopped the agent after {n(b['stopped_after_ms'])} ms; "
            + (f"it spoke again after {b['silence_ms']:.0f} ms" if b["recovered"] else "it did not speak again")
            if b["false_interruption"]
            else ("the agent went on" if b["agent_speaking"] else "the agent was not speaking")
        )
        lines.append(f"  {b['what']:<12} at {b['placed_ms']:.0f} ms: {outcome}")
    for note in conditions.get("notes") or []:
        lines.append(f"  note         {note}")
    for bc in conditions.get("backchannels_not_inserted") or []:
        lines.append(f"  {bc['what']:<12} not inserted: {bc['note']}")
    heard = [t for t in robust.get("transcripts") or [] if t]
    if heard:
        lines.append("  agent heard  " + "; ".join(repr(t) for t in heard))
    for p in robust.get("pauses") or []:
        what = "the agent took the turn in the pause" if p["early"] else "the agent waited"
        lines.append(f"  pause {p['pause_ms']:.0f} ms: {what}")
    return lines
