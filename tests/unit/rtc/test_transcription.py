"""CallTranscription's part of the conversation: CallSpec.transcribe attaches it to the call, and
what its recognizer could not transcribe is one note per reason, not a row per reply."""

from __future__ import annotations

import pytest

from voicedesk.rtc.call import Call
from voicedesk.rtc.events import EventsNotice, TranscriptReceived
from voicedesk.rtc.spec import CallSpec
from voicedesk.rtc.transcription import CallTranscription
from voicedesk.speech.recognizers import SttChoice
from voicedesk.speech.transcript import Transcript

DIED = "the speech recognizer's worker process died (SIGKILL)"


async def test_a_dead_recognizer_is_one_note_and_words_heard_are_published() -> None:
    call = Call.from_spec(CallSpec("embedded:echo", transcribe=SttChoice("constrained")))
    try:
        (transcription,) = [e for e in call.extensions if isinstance(e, CallTranscription)]
        t0 = transcription.t0  # the call's clock: replies heard 1-2 s and 4-5 s into the call
        transcription.runs = [(t0 + 1.0, t0 + 2.0), (t0 + 4.0, t0 + 5.0)]
        tell = transcription.transcriber.on_result
        assert tell is not None
        tell(0, Transcript("hello there", (("hello", 1000.0, 1300.0), ("there", 1300.0, 1700.0)), "whisper tiny.en"))
        tell(1, Transcript.failed(DIED, "whisper tiny.en"))
        tell(2, Transcript.failed(DIED, "whisper tiny.en"))
    finally:
        await call.hangup()
    heard = [e for e in call.conversation.events if isinstance(e, TranscriptReceived)]
    notes = [e for e in call.conversation.events if isinstance(e, EventsNotice)]
    assert [(e.text, e.channel, e.item_id) for e in heard] == [("hello there", "whisper tiny.en", "heard-0")]
    assert heard[0].heard_ms == pytest.approx((1000.0, 1800.0), abs=1.0)  # the run's end less its 0.2 s tail
    assert [n.text for n in notes] == [f"VoiceDesk's recognizer (whisper tiny.en): transcripts unavailable: {DIED}"]
    (turn,) = call.conversation.turns
    assert turn.said == "hello there" and turn.agent is not None and turn.agent.recognizer == "whisper tiny.en"
