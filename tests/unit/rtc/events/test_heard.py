"""VoiceDesk's recognizer's words in the conversation: placed by the time of the audio they
were heard in, not by when the worker answered; a final pass replaces the live partials."""

from __future__ import annotations

from voicedesk.rtc.events import Conversation, Speaker, SpeechStarted, SpeechStopped, TextSource, TranscriptReceived
from voicedesk.rtc.events.model import caller_sent

CALLER, AGENT = Speaker.CALLER, Speaker.AGENT
LABEL = "whisper tiny.en"


def heard(
    arrived: float, start: float, end: float, text: str, key: int, final: bool = True, protocol: str = "caller"
) -> TranscriptReceived:
    words = tuple((w, start + 300 * i, start + 300 * i + 250) for i, w in enumerate(text.split())) if final else ()
    return TranscriptReceived(
        t_ms=arrived,
        protocol=protocol,
        type="recognizer",
        who=AGENT,
        text=text,
        final=final,
        source=TextSource.RECOGNIZER,
        channel=LABEL,
        item_id=f"heard-{key}",
        heard_ms=(start, end),
        words=words,
    )


def test_an_agent_that_reports_nothing_gets_a_turn_per_reply_heard() -> None:
    conversation = Conversation()
    conversation.add(heard(3000, 500, 2000, "hello there", 0))
    conversation.add(heard(6000, 4000, 5500, "how can i help", 1))
    first, second = conversation.turns
    assert first.caller is None and first.said == "hello there"
    assert (first.agent.start_ms, first.agent.end_ms) == (500, 2000)
    assert second.said == "how can i help" and second.agent.recognizer == LABEL
    assert [w for w, _, _ in second.agent.words] == ["how", "can", "i", "help"]
    assert second.agent.words[0][1] == 4000
    json = second.model_json()
    assert json["agent"]["texts"] == {"voicedesk": "how can i help"} and json["agent"]["heard_by"] == LABEL
    assert json["agent"]["words"][0] == ["how", 4000.0, 4250.0]


def test_late_words_go_to_the_reply_they_were_heard_in_not_the_turn_begun_since() -> None:
    conversation = Conversation()
    conversation.add(caller_sent("what time is it", 1000, "say"))  # turn 1: VoiceDesk spoke
    conversation.add(caller_sent("and the weather", 5000, "say"))  # turn 2 began before turn 1's reply was heard
    conversation.add(heard(5200, 2500, 4200, "it is noon", 0))  # the reply to turn 1, transcribed late
    conversation.add(heard(9000, 6500, 8000, "sunny and warm", 1))
    one, two = conversation.turns
    assert (one.heard, one.said) == ("what time is it", "it is noon")
    assert (two.heard, two.said) == ("and the weather", "sunny and warm")


def test_the_final_pass_replaces_the_live_partials_of_the_same_reply() -> None:
    conversation = Conversation()
    conversation.add(heard(1500, 500, None, "the wether", 0, final=False))  # type: ignore[arg-type]
    (turn,) = conversation.turns
    assert turn.said == "the wether" and not turn.agent.heard()[0].final
    conversation.add(heard(2500, 500, 2200, "the weather is sunny", 0))
    (turn,) = conversation.turns
    assert turn.said == "the weather is sunny"
    assert [t.final for t in turn.agent.transcripts] == [True]  # one text per reply, the latest pass


def test_the_agents_own_words_come_first_and_the_recognizers_stand_beside_them() -> None:
    conversation = Conversation("rtvi")
    for event in (
        SpeechStarted(who=CALLER, t_ms=100, protocol="rtvi", type="user-started-speaking"),
        SpeechStopped(who=CALLER, t_ms=900, protocol="rtvi", type="user-stopped-speaking"),
        SpeechStarted(who=AGENT, t_ms=1200, protocol="rtvi", type="bot-started-speaking"),
        TranscriptReceived(who=AGENT, t_ms=1210, protocol="rtvi", type="bot-tts-text", text="It is noon."),
        SpeechStopped(who=AGENT, t_ms=2500, protocol="rtvi", type="bot-stopped-speaking"),
        # the next turn began before the recognizer answered
        SpeechStarted(who=CALLER, t_ms=3000, protocol="rtvi", type="user-started-speaking"),
        heard(3500, 1300, 2600, "it is new", 0, protocol="rtvi"),
    ):
        conversation.add(event)
    one, two = conversation.turns
    assert one.said == "It is noon." and one.agent.text(TextSource.RECOGNIZER) == "it is new"
    assert (one.agent.start_ms, one.agent.end_ms) == (1200, 2500)  # the agent's reported times stay
    assert two.agent is None


def test_a_greeting_heard_after_the_first_turn_began_is_a_turn_ahead_of_it() -> None:
    conversation = Conversation()
    conversation.add(caller_sent("hello", 3000, "say"))
    conversation.add(heard(3500, 200, 1800, "welcome to the desk", 0))
    greeting, question = conversation.turns
    assert greeting.index < question.index
    assert greeting.said == "welcome to the desk" and greeting.caller is None
    assert question.heard == "hello" and question.agent is None


def test_a_reply_the_caller_talked_over_stays_in_the_turn_it_answered() -> None:
    conversation = Conversation()
    conversation.add(caller_sent("tell me a story", 1000, "say"))
    conversation.add(caller_sent("stop", 3300, "say"))  # barged in 300 ms after the reply began
    conversation.add(heard(4500, 3000, 3600, "once upon", 0))
    story, stop = conversation.turns
    assert story.said == "once upon" and stop.agent is None
