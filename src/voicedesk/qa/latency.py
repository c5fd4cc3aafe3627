"""Latency where the user hears it: speech found in the audio the client sent and received.

Both directions are recorded for the whole call with the loop time each 20 ms block was
handed to the encoder (sent) or came out of the decoder (received). Speech is found
by energy on 10 ms frames against the recording's own noise floor, so it works for any
agent (TTS, a recorded voice, a tone, an echo) without the agent's cooperation:

- an utterance ends where the sent audio falls silent for ``hang_ms``;
- a reply starts at the first received frame of a run of speech at least ``min_speech_ms`` long.

voice-to-voice = reply onset − utterance end. Received time is when the decoder gave the
frame to us; a browser would add its playout buffer (tens of ms) on top.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from voicedesk.media.pcm import SAMPLE_RATE

# the recording and its speech runs live in media/timed_recorder.py; imported from here before the move
from voicedesk.media.timed_recorder import (  # noqa: F401
    FRAME,
    FRAME_MS,
    SpeechRun,
    TimedRecorder,
    frame_levels,
    speech_runs,
    speech_threshold,
)
from voicedesk.speech.text import wer
from voicedesk.speech.transcript import Transcript


def voice_to_voice_text(ms: float | None) -> str:
    """How a voice-to-voice figure reads: ``993 ms``. A negative one is true too: the reply
    began before the utterance ended (an echo, an agent talking over the caller); say so."""
    if ms is None:
        return "n/a"
    if ms < 0:
        return f"{ms:.0f} ms (the reply began before the utterance ended)"
    return f"{ms:.0f} ms"


def peak_hz(audio: np.ndarray) -> float | None:
    if audio.size < 1024:
        return None
    window = audio[-min(audio.size, SAMPLE_RATE) :] * np.hanning(min(audio.size, SAMPLE_RATE))
    spectrum = np.abs(np.fft.rfft(window))
    spectrum[0] = 0
    return float(np.argmax(spectrum) * SAMPLE_RATE / window.size)


@dataclass
class Turn:
    """One exchange as the client measured it (seconds are monotonic; *_ms are relative)."""

    index: int
    said: str
    utterance_start: float
    utterance_end: float
    reply_start: float | None = None
    reply_end: float | None = None
    transcript: str | None = None
    agent: dict | None = None  # the agent's own timings, when it reports them
    barge_in_at: float | None = None
    heard: Transcript | None = None  # the reply's transcript with word times (call ms), or why there is none

    @property
    def voice_to_voice_ms(self) -> float | None:
        if self.reply_start is None:
            return None
        return (self.reply_start - self.utterance_end) * 1000.0

    @property
    def response_ms(self) -> float | None:
        if self.reply_start is None:
            return None
        return (self.reply_start - self.utterance_start) * 1000.0

    @property
    def reply_ms(self) -> float | None:
        if self.reply_start is None or self.reply_end is None:
            return None
        return (self.reply_end - self.reply_start) * 1000.0

    @property
    def barge_in_stop_ms(self) -> float | None:
        """How long the agent kept talking after the barge-in started."""
        if self.barge_in_at is None or self.reply_end is None:
            return None
        return max(0.0, (self.reply_end - self.barge_in_at) * 1000.0)

    def to_json(self, t0: float) -> dict:
        def rel(t: float | None) -> float | None:
            return None if t is None else round((t - t0) * 1000.0, 1)

        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 1)

        heard = self.heard
        first_word = heard.first_word_ms if heard is not None else None
        end_ms = (self.utterance_end - t0) * 1000.0
        said_text = (self.agent or {}).get("response")  # what the agent says it said (its TTS text)
        transcribed = heard is not None and heard.unavailable is None

        return {
            "index": self.index,
            "said": self.said,
            "utterance_start_ms": rel(self.utterance_start),
            "utterance_end_ms": rel(self.utterance_end),
            "reply_start_ms": rel(self.reply_start),
            "reply_end_ms": rel(self.reply_end),
            "voice_to_voice_ms": r(self.voice_to_voice_ms),
            "response_ms": r(self.response_ms),
            "reply_ms": r(self.reply_ms),
            "barge_in_at_ms": rel(self.barge_in_at),
            "barge_in_stop_ms": r(self.barge_in_stop_ms),
            "transcript": self.transcript,
            # the reply's words on the call's clock (ms), from the recognizer (not the agent)
            "words": heard.to_json()["words"] if heard is not None else [],
            "transcript_recognizer": heard.recognizer if heard is not None else None,
            "transcript_unavailable": heard.unavailable if heard is not None else None,
            "first_word_ms": r(first_word),
            # voice to voice again, to the first recognized word instead of the first loud block
            "voice_to_voice_first_word_ms": r(first_word - end_ms) if first_word is not None else None,
            # how far what arrived is from the text the agent reported saying
            "agent_text_wer": round(wer(said_text, heard.text), 3) if said_text and heard and transcribed else None,
            "agent": self.agent,
        }
