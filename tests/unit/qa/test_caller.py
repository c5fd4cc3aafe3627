"""The caller's decisions and the judge's answers, without a call."""

from __future__ import annotations

import random

import pytest

from voicedesk.qa.caller import RuleBrain, condition_holds
from voicedesk.qa.caller_spec import Condition
from voicedesk.qa.judge import read_verdict, transcript_text
from voicedesk.qa.scenario import parse_scenarios

RULES = """\
target: embedded:voice
caller:
  rules:
    - when: {contains: account number}
      say: 4 5 7 2
    - when: {silent: true}
      say: hello are you there
    - when: {after: 4}
      hangup: true
  otherwise: [pardon, say again, sorry what]
"""


async def test_rules_match_in_order_and_otherwise_is_picked_by_the_seed():
    [s] = parse_scenarios(RULES, "r.yaml")
    brain = RuleBrain(s.caller, random.Random(1))
    said = await brain.decide("What is your Account-Number, please?", 1)
    assert (said.say, said.why) == ("4 5 7 2", "rule at line 4")
    assert (await brain.decide(None, 2)).say == "hello are you there"
    assert (await brain.decide("the weather is sunny", 4)).hangup is True
    picks = [(await RuleBrain(s.caller, random.Random(9)).decide("hmm", 2)).say for _ in range(3)]
    assert len(set(picks)) == 1  # the same seed, the same choice
    seen = {(await RuleBrain(s.caller, random.Random(seed)).decide("hmm", 2)).say for seed in range(30)}
    assert seen == {"pardon", "say again", "sorry what"}


@pytest.mark.parametrize(
    ("when", "heard", "turn", "holds"),
    [
        (Condition(contains=("sunny",)), "It is SUNNY today.", 1, True),
        (Condition(contains=("rain", "snow")), "sunny", 1, False),
        (Condition(matches=r"\bcard\b"), "your card is blocked", 1, True),
        (Condition(after=3), "anything", 2, False),
        (Condition(after=3), "anything", 3, True),
        (Condition(silent=True), "", 1, True),
        (Condition(silent=False), None, 1, False),
    ],
)
def test_conditions(when, heard, turn, holds):
    assert condition_holds(when, heard, turn) is holds


@pytest.mark.parametrize(
    ("answer", "verdict"),
    [
        ('{"pass": true, "reason": "it was polite"}', (True, "it was polite")),
        ('```json\n{"pass": false, "reason": "rude"}\n```', (False, "rude")),
        ("PASS: the agent greeted", (True, "the agent greeted")),
        ("fail - no greeting", (False, "no greeting")),
        ('{"pass": "maybe"}', None),
        ("I think so", None),
    ],
)
def test_the_judges_answer_is_read_or_refused(answer, verdict):
    assert read_verdict(answer) == verdict


def test_the_judge_reads_the_conversation_in_order():
    conversation = {"turns": [{"heard": None, "said": "hi"}, {"heard": "Hello, how can I help?", "said": "bye"}]}
    assert transcript_text([], conversation) == "Caller: hi\nAgent: Hello, how can I help?\nCaller: bye"
    turns = [{"said": "'hi'", "transcript": "hello", "agent": {"response": "Hello."}}]
    assert transcript_text(turns, None) == "Caller: 'hi'\nAgent: Hello."


def test_the_caller_hears_the_end_of_a_reply_from_voicedesk_reports_and_from_the_conversation_model():
    import time

    from voicedesk.qa.caller import AgentEars
    from voicedesk.rtc.events import AgentEventReceived
    from voicedesk.rtc.events.model import Speaker, SpeechStarted, SpeechStopped, TranscriptReceived

    since = time.monotonic()
    ours = AgentEars()
    ours(AgentEventReceived({"type": "audio_out_started", "turn": 1}, 1.0))
    assert ours.talking() is True and not ours.reply_done(since)
    ours(AgentEventReceived({"type": "audio_out_stopped", "turn": 1}, 2.0))  # a pause between sentences
    assert not ours.reply_done(since)
    ours(AgentEventReceived({"type": "turn", "turn": 1, "response": "It is sunny."}, 3.0))
    assert ours.reply_done(since) and ours.reply_text(since) == "It is sunny." and ours.talking() is False

    # RTVI (pipecat): the same sentence on three channels, then the bot stops speaking
    rtvi = AgentEars()
    rtvi(AgentEventReceived({"type": "bot-started-speaking"}, 1.0, "rtvi"))
    base = {"protocol": "rtvi", "who": Speaker.AGENT}
    rtvi(SpeechStarted(t_ms=1.0, type="bot-started-speaking", **base))
    for channel in ("bot-transcription", "bot-tts-text", "bot-output"):
        rtvi(TranscriptReceived(t_ms=2.0, type=channel, text="It is sunny.", channel=channel, **base))
    assert rtvi.talking() is True and not rtvi.reply_done(since)
    rtvi(SpeechStopped(t_ms=3.0, type="bot-stopped-speaking", **base))
    assert rtvi.reply_done(since) and rtvi.reply_text(since) == "It is sunny."
    # the caller's own words in the model are not the agent's
    rtvi(TranscriptReceived(t_ms=4.0, type="user-transcription", text="thanks", protocol="rtvi", who=Speaker.CALLER))
    assert rtvi.reply_text(since) == "It is sunny."
