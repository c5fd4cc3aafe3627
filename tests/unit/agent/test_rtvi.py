"""agent/rtvi.py's translator: VoiceDesk's turn events as the RTVI messages pipecat 1.14 sends."""

from __future__ import annotations

from voicedesk.agent.rtvi import LABEL, RtviTranslator


def kinds(messages: list[dict]) -> list[str]:
    assert all(m["label"] == LABEL for m in messages)
    return [m["type"] for m in messages]


def test_a_scripted_lines_text_is_shown_once_the_bot_speaks_it() -> None:
    rtvi = RtviTranslator("pc-1")
    assert kinds(rtvi.translate({"type": "speech_started"})) == ["user-started-speaking"]
    assert kinds(rtvi.translate({"type": "speech_stopped"})) == ["user-stopped-speaking"]
    assert kinds(rtvi.translate({"type": "response_started"})) == ["bot-llm-started"]
    # the text is complete before the audio starts: transcription now, output when spoken
    ended = rtvi.translate({"type": "response_ended", "text": "Hello there."})
    assert kinds(ended) == ["bot-transcription", "bot-llm-stopped"] and ended[0]["data"] == {"text": "Hello there."}
    started = rtvi.translate({"type": "audio_out_started"})
    assert kinds(started) == ["bot-started-speaking", "bot-output", "bot-tts-text"]
    output = started[1]["data"]
    assert output["text"] == "Hello there." and output["spoken"] is True and output["spoken_status"] == "completed"
    assert output["output_type"] == output["text_type"] == output["aggregated_by"] == "sentence"
    # text that ends while the bot speaks (a streamed reply) goes out at once
    assert kinds(rtvi.translate({"type": "response_ended", "text": "More."})) == [
        "bot-transcription",
        "bot-output",
        "bot-tts-text",
        "bot-llm-stopped",
    ]
    assert kinds(rtvi.translate({"type": "audio_out_stopped"})) == ["bot-stopped-speaking"]


def test_text_whose_audio_never_came_goes_out_with_the_turn_report() -> None:
    rtvi = RtviTranslator()
    rtvi.translate({"type": "response_ended", "text": "Unspoken."})
    report = {"type": "turn", "latency_ms": {"response": 250.0, "synthesis": None, "transcription": 40.0}}
    messages = rtvi.translate(report)
    assert kinds(messages) == ["bot-output", "bot-tts-text", "metrics"]
    assert messages[2]["data"] == {
        "ttfb": [{"processor": "ResponderProcessor", "value": 0.25}],
        "processing": [{"processor": "STTProcessor", "value": 0.04}],
    }


def test_transcripts_speech_and_typed_text() -> None:
    rtvi = RtviTranslator("pc-9")
    final = rtvi.translate({"type": "transcript", "final": True, "text": "what time is it"}, timestamp="T")
    assert kinds(final) == ["user-input", "user-transcription"]
    assert final[1]["data"] == {"text": "what time is it", "user_id": "pc-9", "timestamp": "T", "final": True}
    assert final[0]["data"]["input_type"] == "transcription"
    partial = rtvi.translate({"type": "transcript", "final": False, "text": "what ti"}, timestamp="T")
    assert [m["data"]["final"] for m in partial] == [False, False]
    assert rtvi.translate({"type": "transcript", "final": True, "text": "  "}) == []  # noise: nothing said
    typed = rtvi.translate({"type": "transcript", "final": True, "text": "hi", "input": "text", "msg_id": "m1"})
    assert (
        kinds(typed) == ["user-input"]
        and typed[0]["data"]["input_type"] == "chat"
        and typed[0]["data"]["msg_id"] == "m1"
    )


def test_interruptions_errors_and_events_rtvi_has_no_word_for() -> None:
    rtvi = RtviTranslator()
    assert kinds(rtvi.translate({"type": "barge_in", "stop_ms": 80.0})) == ["bot-interrupted"]
    error = rtvi.translate({"type": "error", "message": "tts: espeak-ng failed", "fatal": False})
    assert error == [{"label": LABEL, "type": "error", "data": {"error": "tts: espeak-ng failed", "fatal": False}}]
    for silent in ("session_started", "session_ended", "script_step", "something_new"):
        assert rtvi.translate({"type": silent}) == []
    assert rtvi.translate({"type": "response_ended", "text": None}) == []  # an audio-only reply
    assert rtvi.translate({"type": "turn", "latency_ms": {}}) == []


def test_the_turns_answer_keeps_the_latest_that_fit_one_message() -> None:
    import json

    from voicedesk.agent.registry import Agent
    from voicedesk.agent.rtvi import MAX_MESSAGE, RtviResponder

    class Chatty(Agent):
        name = "chatty"

        @property
        def turns(self) -> list[dict]:
            return [{"type": "turn", "turn": n, "transcript": "x" * 1000} for n in range(1, 201)]

    sent: list[str] = []

    class Channel:
        readyState = "open"

        def send(self, text: str) -> None:
            sent.append(text)

    responder = RtviResponder(Chatty())
    responder._client_message(Channel(), "m", {"t": "turns"})  # type: ignore[arg-type]
    answer = json.loads(sent[0])
    numbers = [t["turn"] for t in answer["data"]["d"]]
    assert len(sent[0]) <= MAX_MESSAGE and numbers == list(range(numbers[0], 201)) and len(numbers) > 50
