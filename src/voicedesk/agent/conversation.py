"""Turn reports: an observer that times each caller turn and the agent's reply.

It watches the pipeline's frames and emits JSON-ready event dicts (see the README
section "Turn events" for the format). Times are milliseconds since the session's
StartFrame on the agent's clock; durations are differences of those.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from voicedesk.agent.frames import (
    AgentStartedSpeakingFrame,
    AgentStoppedSpeakingFrame,
    AudioInFrame,
    EndFrame,
    ErrorFrame,
    EventFrame,
    FinalTranscriptFrame,
    Frame,
    FrameDirection,
    InterruptionFrame,
    PartialTranscriptFrame,
    ResponseEndedFrame,
    ResponseStartedFrame,
    ResponseTextFrame,
    SpeechAudioOutFrame,
    SpeechStartedFrame,
    SpeechStoppedFrame,
    StartFrame,
    TextInputFrame,
)
from voicedesk.agent.pipeline import FrameProcessor, Observer

logger = logging.getLogger(__name__)

EVENT_VERSION = 1
MAX_EVENTS = 2000
EventCallback = Callable[[dict[str, Any]], None]


@dataclass
class Turn:
    number: int
    speech_started_ms: float | None = None  # the onset the VAD found (before it was sure)
    speech_start_detected_ms: float | None = None
    speech_ended_ms: float | None = None  # the last speech frame
    speech_end_detected_ms: float | None = None  # after the VAD's hang-over
    transcript_final_ms: float | None = None
    transcript: str | None = None
    partials: list[str] = field(default_factory=list)
    response_started_ms: float | None = None
    first_response_text_ms: float | None = None
    response_text: str = ""
    first_audio_out_ms: float | None = None
    audio_out_ended_ms: float | None = None
    interrupted: bool = False
    barge_in_ms: float | None = None  # caller's speech detected -> agent's audio stopped
    errors: list[str] = field(default_factory=list)
    response_ended: bool = False
    reported: bool = False

    def to_json(self) -> dict[str, Any]:
        def span(a: float | None, b: float | None) -> float | None:
            return None if a is None or b is None else round(b - a, 1)

        return {
            "type": "turn",
            "v": EVENT_VERSION,
            "turn": self.number,
            "transcript": self.transcript,
            "response": self.response_text.strip() or None,
            "interrupted": self.interrupted,
            "errors": list(self.errors),
            "timings_ms": {
                "speech_started": _r(self.speech_started_ms),
                "speech_start_detected": _r(self.speech_start_detected_ms),
                "speech_ended": _r(self.speech_ended_ms),
                "speech_end_detected": _r(self.speech_end_detected_ms),
                "transcript_final": _r(self.transcript_final_ms),
                "first_response_text": _r(self.first_response_text_ms),
                "first_audio_out": _r(self.first_audio_out_ms),
                "audio_out_ended": _r(self.audio_out_ended_ms),
            },
            "latency_ms": {
                "end_detection": span(self.speech_ended_ms, self.speech_end_detected_ms),
                "transcription": span(self.speech_end_detected_ms, self.transcript_final_ms),
                "response": span(self.transcript_final_ms, self.first_response_text_ms),
                "synthesis": span(self.first_response_text_ms or self.response_started_ms, self.first_audio_out_ms),
                "voice_to_voice": span(self.speech_ended_ms, self.first_audio_out_ms),
                "barge_in": _r(self.barge_in_ms),
            },
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


class TurnObserver(Observer):
    """Builds ``Turn`` records from frames and calls ``emit`` with live events and turn reports.

    A frame passes several processors; it is counted once (by id).
    """

    def __init__(self, emit: EventCallback | None = None) -> None:
        self.emit = emit
        self.turns: list[Turn] = []
        # the last events (a long call sends thousands of partials); turn reports are all kept
        self.events: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_EVENTS)
        self.reports: list[dict[str, Any]] = []
        self._t0: float | None = None
        self._seen: collections.deque[int] = collections.deque(maxlen=256)
        self._seen_set: set[int] = set()
        self._reply: Turn | None = None  # the turn the agent is answering
        self._speaking = False
        self._interrupt_at: float | None = None

    # time and bookkeeping -------------------------------------------------
    def _ms(self, t: float) -> float:
        return (t - (self._t0 or t)) * 1000.0

    def _first_time(self, frame: Frame) -> bool:
        if frame.id in self._seen_set:
            return False
        if len(self._seen) == self._seen.maxlen:
            self._seen_set.discard(self._seen[0])
        self._seen.append(frame.id)
        self._seen_set.add(frame.id)
        return True

    def _send(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        if event.get("type") == "turn":
            self.reports.append(event)
        if self.emit is not None:
            try:
                self.emit(event)
            except Exception:
                logger.exception("sending a turn event failed")

    def _event(self, kind: str, t: float, turn: Turn | None, **data: Any) -> None:
        self._send(
            {"type": kind, "v": EVENT_VERSION, "t_ms": _r(self._ms(t)), "turn": turn.number if turn else None, **data}
        )

    def _report(self, turn: Turn) -> None:
        if not turn.reported:
            turn.reported = True
            self._send(turn.to_json())

    @property
    def current(self) -> Turn | None:
        return self.turns[-1] if self.turns else None

    # the observer ---------------------------------------------------------
    def on_push(
        self, source: FrameProcessor, destination: FrameProcessor | None, frame: Frame, direction: FrameDirection
    ) -> None:
        if isinstance(frame, AudioInFrame | SpeechAudioOutFrame) or not self._first_time(frame):
            return
        if isinstance(frame, StartFrame):
            self._t0 = frame.at
            self._event("session_started", frame.at, None)
        elif isinstance(frame, SpeechStartedFrame):
            self._on_speech_started(frame)
        elif isinstance(frame, InterruptionFrame):
            self._interrupt_at = frame.at
        elif isinstance(frame, SpeechStoppedFrame):
            turn = self.current
            if turn is not None and turn.speech_end_detected_ms is None:
                turn.speech_ended_ms = self._ms(frame.offset)
                turn.speech_end_detected_ms = self._ms(frame.at)
                self._event("speech_stopped", frame.at, turn, speech_ended_ms=_r(turn.speech_ended_ms))
        elif isinstance(frame, PartialTranscriptFrame):
            # partials come while the caller still speaks: the latest turn without a final one
            turn = next((t for t in reversed(self.turns) if t.transcript is None), None)
            if turn is not None:
                turn.partials.append(frame.text)
                self._event("transcript", frame.at, turn, final=False, text=frame.text)
        elif isinstance(frame, FinalTranscriptFrame):
            turn = self._awaiting_transcript()
            if turn is not None:
                turn.transcript = frame.text
                turn.transcript_final_ms = self._ms(frame.at)
                self._event("transcript", frame.at, turn, final=True, text=frame.text)
                if not frame.text.strip():
                    self._report(turn)  # nothing to answer
        elif isinstance(frame, TextInputFrame):
            self._on_text_input(frame)
        elif isinstance(frame, ResponseStartedFrame):
            self._on_response_started(frame)
        elif isinstance(frame, ResponseTextFrame):
            turn = self._reply
            if turn is not None:
                if turn.first_response_text_ms is None:
                    turn.first_response_text_ms = self._ms(frame.at)
                    self._event("response_started", frame.at, turn)
                turn.response_text += frame.text
        elif isinstance(frame, ResponseEndedFrame):
            turn = self._reply
            if turn is not None:
                turn.response_ended = True
                if turn.response_text.strip() or turn.first_audio_out_ms is not None:
                    self._event("response_ended", frame.at, turn, text=turn.response_text.strip() or None)
        elif isinstance(frame, AgentStartedSpeakingFrame):
            self._speaking = True
            turn = self._reply
            if turn is not None and turn.first_audio_out_ms is None:
                turn.first_audio_out_ms = self._ms(frame.at)
            self._event("audio_out_started", frame.at, turn)
        elif isinstance(frame, AgentStoppedSpeakingFrame):
            self._on_stopped_speaking(frame)
        elif isinstance(frame, ErrorFrame):
            turn = self._reply or self.current
            if turn is not None:
                turn.errors.append(frame.message)
            self._event("error", frame.at, turn, message=frame.message, source=frame.source, fatal=frame.fatal)
        elif isinstance(frame, EventFrame):
            self._event(frame.event, frame.at, self.current, **frame.data)
        elif isinstance(frame, EndFrame):
            for turn in self.turns:
                self._report(turn)
            self._event("session_ended", frame.at, None)

    def _on_speech_started(self, frame: SpeechStartedFrame) -> None:
        if self._reply is not None and not self._speaking and self._reply.response_ended:
            self._report(self._reply)
            self._reply = None
        # a turn whose reply never came (nothing recognized) is reported when the next begins
        for turn in self.turns:
            if turn is not self._reply and turn.transcript_final_ms is not None and turn.response_started_ms is None:
                self._report(turn)
        turn = Turn(len(self.turns) + 1)
        turn.speech_started_ms = self._ms(frame.onset)
        turn.speech_start_detected_ms = self._ms(frame.at)
        self.turns.append(turn)
        self._event("speech_started", frame.at, turn, onset_ms=_r(turn.speech_started_ms))

    def _on_text_input(self, frame: TextInputFrame) -> None:
        """Typed text is a turn of its own whose transcript is known at once (so the reply that
        follows is attributed to it): ``input`` says it was typed, ``msg_id`` is the client's."""
        turn = Turn(len(self.turns) + 1)
        turn.transcript = frame.text
        turn.speech_end_detected_ms = turn.transcript_final_ms = self._ms(frame.at)
        self.turns.append(turn)
        extra = {"msg_id": frame.msg_id} if frame.msg_id else {}
        self._event("transcript", frame.at, turn, final=True, text=frame.text, input="text", **extra)

    def _awaiting_transcript(self) -> Turn | None:
        return next((t for t in self.turns if t.transcript is None and t.speech_end_detected_ms is not None), None)

    def _on_response_started(self, frame: ResponseStartedFrame) -> None:
        candidates = [t for t in self.turns if t.speech_end_detected_ms is not None and t.response_started_ms is None]
        turn = candidates[-1] if candidates else self.current
        if turn is None:  # the agent speaks first (no caller turn yet)
            turn = Turn(0)
            self.turns.insert(0, turn)
        if self._reply is not None and self._reply is not turn:
            self._report(self._reply)
        turn.response_started_ms = self._ms(frame.at)
        self._reply = turn

    def _on_stopped_speaking(self, frame: AgentStoppedSpeakingFrame) -> None:
        self._speaking = False
        turn = self._reply
        if turn is None:
            return
        turn.audio_out_ended_ms = self._ms(frame.at)
        if frame.interrupted:
            turn.interrupted = True
            if self._interrupt_at is not None:
                turn.barge_in_ms = (frame.at - self._interrupt_at) * 1000.0
            self._event("barge_in", frame.at, turn, stop_ms=_r(turn.barge_in_ms))
        self._event("audio_out_stopped", frame.at, turn, interrupted=frame.interrupted)
        # a pause between two sentences also stops the audio: the reply is over when its text is
        if frame.interrupted or turn.response_ended:
            self._report(turn)
            self._reply = None

    def finish(self) -> None:
        """Report what was not reported yet (the session ends without an EndFrame)."""
        for turn in self.turns:
            self._report(turn)
