"""rtc/sdp/refusal.py: a refused description explained by the first error-level lint finding."""

from __future__ import annotations

from tests.helpers.sdp import ANSWER, OFFER, mutate
from voicedesk.rtc.sdp.model import parse
from voicedesk.rtc.sdp.refusal import first_error, refusal_reason, rejected_audio, unusable_bundle


def line_of(text: str, start: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(start))


def test_the_first_error_names_rule_and_line_and_keeps_the_stacks_text():
    bad = mutate(OFFER, "a=setup:actpass", "a=setup:weird")
    why = refusal_reason(bad, "offer", "KeyError: 'weird'")
    assert why.startswith(f"line {line_of(bad, 'a=setup')}: ")
    assert why.endswith("[malformed-line] (aiortc: KeyError: 'weird')")


def test_a_good_description_keeps_the_stacks_text_alone():
    assert first_error(OFFER, "offer") is None
    assert refusal_reason(OFFER, "offer", "AttributeError") == "AttributeError"


def test_warnings_are_not_the_reason():
    bad = mutate(OFFER, "a=fmtp:111 minptime=10;useinbandfec=1", "a=fmtp:111 minptime=10")  # opus-no-fec: a warning
    assert refusal_reason(bad, "offer", "ValueError") == "ValueError"


def test_an_answer_is_read_against_its_offer():
    """setup:actpass is an error only in an answer; the pair's rules (here the codec) count too."""
    bad = mutate(ANSWER, "a=setup:active", "a=setup:actpass")
    assert first_error(bad, "answer", offer=OFFER).rule == "setup-actpass-in-answer"
    foreign = mutate(mutate(ANSWER, "111 0", "98"), "a=rtpmap:111 opus/48000/2", "a=rtpmap:98 foo/8000")
    foreign = "\r\n".join(line for line in foreign.split("\r\n") if not line.startswith(("a=fmtp", "a=rtpmap:0")))
    finding = first_error(foreign, "answer", offer=OFFER)
    assert finding is not None and finding.rule == "no-common-codec" and finding.sdp == "answer"


def test_text_that_is_not_sdp_is_unparseable():
    why = refusal_reason("v=0\r\nm=audio\r\n", "offer", "AssertionError")
    assert "[unparseable] (aiortc: AssertionError)" in why


def test_a_connection_line_with_a_missing_field_is_malformed():
    """aiortc asserts on it ("AssertionError" and nothing else)."""
    bad = mutate(OFFER, "c=IN IP4 0.0.0.0", "c=IN IP4")
    assert [(p.line, p.rule) for p in parse(bad).problems] == [(line_of(bad, "c="), "malformed-line")]
    assert "c= needs 3 fields (IN IP4 address), found 2 [malformed-line]" in refusal_reason(bad, "offer", "x")


def test_rejected_audio_only_when_every_audio_section_is_rejected():
    assert rejected_audio(OFFER, ANSWER) is None
    rejected = mutate(ANSWER, "m=audio 9 ", "m=audio 0 ")
    assert rejected_audio(OFFER, rejected) == (
        f"line {line_of(rejected, 'm=audio')}: m-section 0 (audio, mid 0) has port 0 [answer-rejects-media]"
    )
    # an offer that itself disabled the audio is not refused by its answer
    assert rejected_audio(mutate(OFFER, "m=audio 9 ", "m=audio 0 "), rejected) is None
    assert rejected_audio(OFFER, "not sdp") is None


def test_a_bundle_whose_first_mid_names_no_section():
    assert unusable_bundle(ANSWER) is None
    assert unusable_bundle(mutate(ANSWER, "a=group:BUNDLE 0", "a=group:BUNDLE 0 7")) is None  # 0 still carries
    bad = mutate(ANSWER, "a=group:BUNDLE 0", "a=group:BUNDLE 7 0")
    assert unusable_bundle(bad) == "line 5: BUNDLE lists mid '7', which no section has [bundle-unknown-mid]"
