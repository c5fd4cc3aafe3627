"""The transcript normaliser and word error rate (speech/text.py), and the checks built on them."""

from __future__ import annotations

import pytest

from voicedesk.qa.runner import transcript_check
from voicedesk.qa.scenario import parse_scenarios
from voicedesk.speech.text import contains, normalize, wer
from voicedesk.speech.transcript import Transcript


@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        ("four five seven two", "4572"),
        ("four five seven two", "4 5 7 2"),
        ("twenty one", "21"),
        ("three thirty", "3:30"),
        ("three thirty p m", "3:30 p.m."),
        ("nineteen eighty four", "1984"),
        ("three hundred and five", "305"),
        ("two thousand twenty four", "2,024"),
        ("four oh five", "405"),
        ("three point five percent", "3.5%"),
        ("it is okay", "It's OK!"),
        ("i am here", "I'm here."),
        ("forty two", "forty-two"),
        ("five hundred dollars", "$500"),
        ("one thousand pounds", "£1,000"),
        ("born on the fourth of july", "born on the 4th of July"),
        ("the twenty first", "the 21st"),
        ("the eleventh", "the 11th"),
    ],
)
def test_spoken_and_written_forms_normalise_alike(spoken: str, written: str) -> None:
    assert normalize(spoken) == normalize(written)


def test_words_that_are_no_numbers_stay_words() -> None:
    assert normalize("Hello, World! Someone won.") == "hello world someone won"
    assert normalize("oh no") == "oh no"  # "oh" is 0 only between digits
    assert normalize("zero five") == "05"  # a leading zero is kept


def test_word_error_rate() -> None:
    assert wer("the quick brown fox", "the quick brown fox") == 0.0
    assert wer("the quick brown fox", "the quick brown box") == 0.25
    assert wer("the quick brown fox", "quick brown fox jumps") == 0.5  # one deletion, one insertion
    assert wer("your code is four five seven two", "Your code is 4572.") == 0.0
    assert wer("", "") == 0.0 and wer("", "words") == 1.0


def test_contains_matches_after_normalising() -> None:
    assert contains("your code is four five seven two thank you", "4572")
    assert contains("Your code is 4572.", "four five seven two")
    assert not contains("your code is four five seven three", "4572")


def _step(yaml_step: str):
    scenario = parse_scenarios(f"target: embedded:echo\nsteps:\n  - say: hi\n  - wait_reply\n  - {yaml_step}\n")[0]
    return scenario.steps[-1]


def test_expect_transcript_contains_and_wer_max() -> None:
    heard = Transcript("Your code is 4572. Thank you.", recognizer="whisper tiny.en")
    assert transcript_check(_step('expect_transcript: {contains: "four five seven two"}'), heard)[0]
    passed, measured = transcript_check(
        _step('expect_transcript: {text: "your code is four five seven two thank you", wer_max: 0.2}'), heard
    )
    assert passed and "word error rate 0.00" in measured
    passed, measured = transcript_check(
        _step('expect_transcript: {text: "your code is one two three four please", wer_max: 0.2}'), heard
    )
    assert not passed and "word error rate 0.60" in measured


def test_an_unavailable_transcript_fails_the_check_with_its_reason() -> None:
    died = Transcript.failed("the speech recognizer's worker process died (SIGKILL)", "whisper tiny.en")
    passed, measured = transcript_check(_step("expect_transcript: {contains: hello}"), died)
    assert not passed and measured == "transcript unavailable: the speech recognizer's worker process died (SIGKILL)"


def test_text_and_wer_max_go_together() -> None:
    from voicedesk.qa.scenario import ScenarioError

    with pytest.raises(ScenarioError, match="expected text and wer_max together"):
        _step("expect_transcript: {text: hello}")
    with pytest.raises(ScenarioError, match=r"stt_model: for stt: whisper, not stt: open"):
        parse_scenarios("stt: open\nstt_model: /models/base.en\nsteps: [hangup]\n")
    scenario = parse_scenarios("stt: whisper\nstt_model: /models/base.en\nsteps: [hangup]\n")[0]
    assert (scenario.stt_mode, scenario.stt_model) == ("whisper", "/models/base.en")
