"""Real browser offers (Chromium, Firefox captures) answered by the real embedded server (aiortc):
the inspector reads both sides, finds no error, and names what was negotiated."""

from __future__ import annotations

import pytest

from tests.helpers.calls import running_server
from tests.helpers.sdp import fixture_texts
from voicedesk.rtc.sdp import parse
from voicedesk.rtc.sdp.edit import keep_codecs
from voicedesk.rtc.sdp.lint import has_errors, lint_pair
from voicedesk.rtc.sdp.summary import summarize

TEXTS = fixture_texts()


@pytest.mark.parametrize(
    ("offer_name", "opus_pt"),
    [("chromium_offer.sdp", 111), ("firefox_offer.sdp", 109), ("safari_shaped_offer.sdp", 111)],
)
async def test_aiortc_answers_browser_offers(offer_name, opus_pt):
    offer_text = TEXTS[offer_name]
    async with running_server("echo") as server:
        session, answer_text = await server.create_session(offer_text)
        await server.close_session(session, "test done")
    offer, answer = parse(offer_text), parse(answer_text)
    assert answer.to_text() == answer_text
    findings = lint_pair(offer, answer)
    assert not has_errors(findings), [f.format() for f in findings]
    audio = summarize(offer, answer).sections[0]
    assert audio.codec is not None and (audio.codec.name, audio.codec.payload_type) == ("opus", opus_pt)
    assert audio.codec.offer_params.get("useinbandfec") == "1"
    assert (audio.offer_setup, audio.answer_setup, audio.dtls_client) == ("actpass", "active", "answerer")
    assert audio.offerer_sends and audio.answerer_sends
    assert sum(audio.offer_candidates.values()) == len(offer.media[0].candidates)


async def test_a_pcmu_only_browser_offer_gets_a_pcmu_answer():
    offer_text = keep_codecs(TEXTS["chromium_offer.sdp"], ["PCMU"])
    async with running_server("echo") as server:
        session, answer_text = await server.create_session(offer_text)
        await server.close_session(session, "test done")
    audio = summarize(parse(offer_text), parse(answer_text)).sections[0]
    assert audio.codec is not None and (audio.codec.name, audio.codec.clock_rate) == ("PCMU", 8000)
    assert audio.also_common == []
