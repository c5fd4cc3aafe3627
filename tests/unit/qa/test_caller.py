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
