"""Where speech starts and stops in the call's audio, sent and received, on the call's clock.

The conversation view measures its own reply latency from these edges (the end of what
the caller sent → the start of what came back), beside the figure the agent reports,
so a user sees both: the agent's word for it and what reached VoiceDesk's ears.

Cheap on purpose, since ``write`` runs on the loop for every 20 ms block: one RMS per
block (the blocks the call already hands its observers and sinks), a threshold and a
hang time; the runs are kept in a capped deque. The Conversation tab hands a
``CallSpeechEdges`` to each call it shows (as an ``ExtensionRecipe``: it runs where the
call's media runs, the window's engine process or the window's own) and reads its
``view()`` (the runs, copied) on its display timer.
"""

from __future__ import annotations

import copy
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from voicedesk.media.pcm import SAMPLE_RATE, level_dbfs
from voicedesk.media.sinks import AudioSink
from voicedesk.rtc.events import TextSource, Turn
from voicedesk.rtc.extension import CallExtension, ExtensionRecipe

if TYPE_CHECKING:
    from voicedesk.rtc.call import Call

SPEECH_DBFS = -45.0  # a block louder than this is sound (speech, a tone, an echo)
HANG_MS = 300.0  # quiet this long ends a run (the gaps between words are shorter)
MIN_RUN_MS = 60.0  # a click is not an utterance
MAX_RUNS = 500
LOOKBACK_MS = 20_000.0  # the caller's audio began at most this long before the reply
EVENT_LAG_MS = 15_000.0  # an agent's "I started speaking" may reach us this long after its audio…
EVENT_LEAD_MS = 1500.0  # …or this long before it (the audio waits in the jitter buffer and decoder)
KEY = "speech_edges"
VIEW_RUNS = 60  # the runs a view copies: the latest, which the live turns are measured from


@dataclass
class SpeechRun:
    start_ms: float
    end_ms: float | None = None  # None: still sounding


class SpeechEdges(AudioSink):
    """Speech runs in one direction of a call: a sink on the received audio (``call.add_sink``),
    or fed the sent blocks with ``write`` (``call.add_sent_observer``)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__()
        self._clock = clock  # the call's clock, ms
        self.runs: deque[SpeechRun] = deque(maxlen=MAX_RUNS)
        self._open: SpeechRun | None = None
        self._last_loud_ms = 0.0

    def write(self, samples: np.ndarray) -> None:
        now = self._clock()
        if level_dbfs(samples) >= SPEECH_DBFS:
            if self._open is None:
                self._open = SpeechRun(now - samples.size * 1000.0 / SAMPLE_RATE)  # the block's first sample
                self.runs.append(self._open)
            self._last_loud_ms = now
        elif self._open is not None and now - self._last_loud_ms >= HANG_MS:
            run, self._open = self._open, None
            run.end_ms = self._last_loud_ms
            if run.end_ms - run.start_ms < MIN_RUN_MS and self.runs and self.runs[-1] is run:
                self.runs.pop()

    def last_started(self, low_ms: float, high_ms: float) -> SpeechRun | None:
        """The latest run that started within ``[low_ms, high_ms]``."""
        return _last_started(self.runs, low_ms, high_ms)


def _last_started(runs: Sequence[SpeechRun], low_ms: float, high_ms: float) -> SpeechRun | None:
    for run in reversed(runs):
        if run.start_ms < low_ms:
            return None
        if run.start_ms <= high_ms:
            return run
    return None


@dataclass(frozen=True)
class SpeechRunsView:
    """One direction's runs as they were when copied (what crosses to the window)."""

    runs: tuple[SpeechRun, ...]

    def last_started(self, low_ms: float, high_ms: float) -> SpeechRun | None:
        return _last_started(self.runs, low_ms, high_ms)


@dataclass(frozen=True)
class SpeechEdgesView:
    sent: SpeechRunsView
    received: SpeechRunsView


class CallSpeechEdges(CallExtension):
    """Both directions of one call (an extension: the window hands it to the call it builds)."""

    def __init__(self) -> None:
        self.sent = SpeechEdges(self._now_ms)
        self.received = SpeechEdges(self._now_ms)
        self._clock: Callable[[], float] | None = None

    def _now_ms(self) -> float:
        return self._clock() if self._clock is not None else 0.0

    @staticmethod
    def recipe() -> ExtensionRecipe:
        return ExtensionRecipe(KEY, "voicedesk.rtc.speech_edges:CallSpeechEdges")

    def attach(self, call: Call) -> None:
        self._clock = call.now_ms
        call.add_sent_observer(self.sent.write)
        call.add_sink(self.received)

    def view(self) -> SpeechEdgesView:
        return SpeechEdgesView(
            SpeechRunsView(tuple(copy.copy(r) for r in list(self.sent.runs)[-VIEW_RUNS:])),
            SpeechRunsView(tuple(copy.copy(r) for r in list(self.received.runs)[-VIEW_RUNS:])),
        )


def typed_only(texts: Iterable[tuple[TextSource, str]]) -> bool:
    """The caller's part was typed (``send-text``), so no audio of it went out."""
    pairs = list(texts)
    return bool(pairs) and all(source == TextSource.SENT and channel == "send-text" for source, channel in pairs)


def first_word_latency_ms(sent: SpeechEdges | SpeechRunsView, turn: Turn) -> float | None:
    """Voice-to-voice from the first *word* VoiceDesk's recognizer heard in the reply (its time
    on the call's clock) rather than the first loud block: from the end of the caller's audio
    before it. None where the recognizer heard no words, or the caller's part was typed."""
    caller, agent = turn.caller, turn.agent
    if caller is None or agent is None or not agent.words:
        return None
    if typed_only((t.source, t.channel) for t in caller.transcripts):
        return None
    first = agent.words[0][1]
    said = sent.last_started(first - LOOKBACK_MS, first)
    if said is None or said.end_ms is None:
        return None
    return first - said.end_ms


def reply_latency_ms(
    sent: SpeechEdges | SpeechRunsView, received: SpeechEdges | SpeechRunsView, turn: Turn
) -> float | None:
    """VoiceDesk's own figure for ``turn``: from the end of the caller's audio to the start
    of the agent's reply, both as they passed VoiceDesk (sent to the encoder, out of the
    decoder). The agent's events only pick the reply (the received run that began last
    before its start was reported): a loaded agent reports seconds late, the audio is
    what a user hears. Negative when the reply began before the caller stopped (an echo,
    an agent talking over the caller). None where the caller's part was typed, or no
    audio was found."""
    caller, agent = turn.caller, turn.agent
    if caller is None or agent is None or agent.start_ms is None:
        return None
    if typed_only((t.source, t.channel) for t in caller.transcripts):
        return None
    reply = received.last_started(agent.start_ms - EVENT_LAG_MS, agent.start_ms + EVENT_LEAD_MS)
    if reply is None:
        return None
    said = sent.last_started(reply.start_ms - LOOKBACK_MS, reply.start_ms)
    if said is None or said.end_ms is None:
        return None
    return reply.start_ms - said.end_ms
