"""``voicedesk probe turn-taking TARGET``: the shortest pause inside a sentence that an agent
takes as the end of the caller's turn.

One call. The caller says one sentence in two halves again and again, the pause between them
longer each time (``start_ms``, then ``step_ms`` more, up to ``max_ms``), and stops at the
first pause the agent jumps in on: its VAD ended the turn (a ``speech_stopped`` event that
arrived before the second half had ended) or, for an agent that sends no events, its reply
began in the pause. Before each step the caller waits for the agent to end the turn of the
step before (or ``settle_s`` without events), so each sentence starts a fresh turn.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voicedesk.errors import ConfigError, VoiceDeskError
from voicedesk.limits import checked
from voicedesk.media.conditions import pauses
from voicedesk.media.conditions.inserts import AGENT_SPEECH_DBFS
from voicedesk.media.pcm import SAMPLE_RATE, level_dbfs
from voicedesk.media.sinks import AudioSink
from voicedesk.media.tracks import QueuedAudioTrack
from voicedesk.rtc.call import Call
from voicedesk.rtc.events import AgentEventReceived
from voicedesk.rtc.spec import CallSpec

DEFAULT_SENTENCE = "please book a table for two people"


@dataclass(frozen=True)
class ProbeStep:
    pause_ms: float
    jumped_in: bool
    turn_ended_ms: float | None  # after the first half ended (its speech_stopped event arrived)
    reply_onset_ms: float | None  # after the first half ended (agent audio received)

    def to_json(self) -> dict[str, Any]:
        return {
            "pause_ms": self.pause_ms,
            "jumped_in": self.jumped_in,
            "turn_ended_ms": self.turn_ended_ms,
            "reply_onset_ms": self.reply_onset_ms,
        }


@dataclass
class TurnTakingResult:
    target: str
    step_ms: float
    steps: list[ProbeStep] = field(default_factory=list)
    from_events: bool = False
    error: str | None = None

    @property
    def threshold_ms(self) -> float | None:
        """The shortest pause the agent jumped in on (None: none up to the longest tried)."""
        return next((s.pause_ms for s in self.steps if s.jumped_in), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "threshold_ms": self.threshold_ms,
            "resolution_ms": self.step_ms,
            "from_events": self.from_events,
            "steps": [s.to_json() for s in self.steps],
            "error": self.error,
        }


class _AgentAudio(AudioSink):
    """Arrival times of the agent's loud audio blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.loud: list[float] = []

    def write(self, samples: np.ndarray) -> None:
        if level_dbfs(samples) > AGENT_SPEECH_DBFS:
            self.loud.append(time.monotonic())


def _halves(sentence: str) -> tuple[np.ndarray, np.ndarray]:
    from voicedesk.rtc.conditions import speak

    split = pauses.split_words(sentence)
    if split is None:
        raise ConfigError(f"the probe's sentence needs at least two words, got {sentence!r}")
    return pauses.trim(speak(split[0])), pauses.trim(speak(split[1]))


async def probe_turn_taking(
    spec: CallSpec,
    *,
    start_ms: float = 100.0,
    step_ms: float = 50.0,
    max_ms: float = 2000.0,
    sentence: str = DEFAULT_SENTENCE,
    settle_s: float = 3.0,
) -> TurnTakingResult:
    checked(start_ms, "--start-ms", minimum=0, maximum=10_000)
    checked(step_ms, "--step-ms", above=0, maximum=5_000)
    checked(max_ms, "--max-ms", minimum=start_ms, maximum=10_000)
    first, second = _halves(sentence)
    mouth = QueuedAudioTrack()
    heard = _AgentAudio()
    call = Call.from_spec(spec, source=mouth)
    call.add_sink(heard)
    stops: list[float] = []  # arrival times of speech_stopped events
    changed = asyncio.Event()

    def on_event(event: object) -> None:
        if isinstance(event, AgentEventReceived) and event.type == "speech_stopped":
            stops.append(time.monotonic())
            changed.set()

    call.add_listener(on_event)
    result = TurnTakingResult(target=call.target, step_ms=step_ms)
    try:
        await call.start()
        await mouth.play(np.zeros(int(0.3 * SAMPLE_RATE), dtype=np.float32))
        pause = start_ms
        while pause <= max_ms + 1e-9:
            ended_before = len(stops)
            one = mouth.enqueue(first)
            mouth.enqueue(np.zeros(round(pause * SAMPLE_RATE / 1000), dtype=np.float32))
            two = mouth.enqueue(second)
            assert one is not None and two is not None  # a loop runs
            (_, first_end), (_, end) = await one, await two
            await _await_turn_end(stops, changed, ended_before, end, settle_s)
            result.from_events = result.from_events or bool(stops)
            ended = next((t for t in stops[ended_before:] if first_end < t < end), None)
            reply = next((t for t in heard.loud if first_end < t < end), None) if not result.from_events else None
            step = ProbeStep(
                pause_ms=round(pause, 1),
                jumped_in=ended is not None or reply is not None,
                turn_ended_ms=None if ended is None else round((ended - first_end) * 1000, 1),
                reply_onset_ms=None if reply is None else round((reply - first_end) * 1000, 1),
            )
            result.steps.append(step)
            if step.jumped_in or call.state.is_final:
                break
            pause += step_ms
    except VoiceDeskError as exc:
        result.error = str(exc)
    finally:
        await call.hangup()
    if result.error is None and call.state.value == "failed":
        result.error = call.reason
    return result


async def _await_turn_end(stops: list[float], changed: asyncio.Event, before: int, end: float, settle_s: float) -> None:
    """Until the agent ended the turn of what was just said (an event after ``end``), or
    ``settle_s`` for an agent that sends none; then a breath so the next sentence is new."""
    deadline = time.monotonic() + settle_s
    while not any(t > end for t in stops[before:]) and time.monotonic() < deadline:
        changed.clear()
        try:
            await asyncio.wait_for(changed.wait(), max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            break
    await asyncio.sleep(0.3)
