"""Negotiation summary and structural diff of real and minimal SDPs."""

from __future__ import annotations

from tests.helpers.sdp import ANSWER, OFFER, fixture_texts, mutate
from voicedesk.rtc.sdp import parse
from voicedesk.rtc.sdp.diff import diff, format_diff
from voicedesk.rtc.sdp.edit import drop_candidates, keep_codecs
from voicedesk.rtc.sdp.summary import format_summary, summarize

TEXTS = fixture_texts()


def test_janus_pair_summary():
    summary = summarize(parse(TEXTS["janus_offer.sdp"]), parse(TEXTS["janus_answer.sdp"]))
    (audio,) = summary.sections
    assert audio.codec is not None
    assert (audio.codec.name, audio.codec.payload_type, audio.codec.clock_rate, audio.codec.channels) == (
        "opus",
        96,
        48000,
        2,
    )
    assert audio.also_common == []  # Janus answered Opus only
    assert (audio.offer_setup, audio.answer_setup, audio.dtls_client) == ("actpass", "active", "answerer")
    assert audio.offerer_sends and audio.answerer_sends
    assert audio.rtcp_mux
    assert audio.offer_candidates == {"host udp": 3} and audio.answer_candidates == {"host udp": 1}
    assert summary.ice_controlling == "offerer" and not summary.offer_ice_lite and not summary.answer_ice_lite
    assert summary.answer_trickle and summary.bundle == ["0"]
    text = format_summary(summary)
    assert "opus/48000/2 (PT 96)" in text
    assert "answerer is DTLS client" in text
    assert "offer: 3 host udp; answer: 1 host udp" in text


def test_pcmu_only_offer_summary_and_params():
    offer = parse(keep_codecs(OFFER, ["PCMU"]))
    answer = parse(keep_codecs(ANSWER, ["PCMU"]).replace("a=rtcp-mux\r\n", "a=rtcp-mux\r\na=ptime:20\r\n"))
    (audio,) = summarize(offer, answer).sections
    assert audio.codec is not None and (audio.codec.name, audio.codec.payload_type) == ("PCMU", 0)
    assert audio.answer_ptime == 20 and audio.offer_ptime is None


def test_opus_params_of_both_sides_and_ice_lite_roles():
    lite_offer = mutate(OFFER, "t=0 0\r\n", "t=0 0\r\na=ice-lite\r\n")
    answer = mutate(ANSWER, "minptime=10;useinbandfec=1", "useinbandfec=1;stereo=1")
    summary = summarize(parse(lite_offer), parse(answer))
    assert summary.offer_ice_lite and summary.ice_controlling == "answerer"
    codec = summary.sections[0].codec
    assert codec is not None
    assert codec.offer_params == {"minptime": "10", "useinbandfec": "1"}
    assert codec.answer_params == {"useinbandfec": "1", "stereo": "1"}
    assert summary.sections[0].also_common == ["PCMU/8000"]


def test_directions_and_rejection():
    sendonly = summarize(
        parse(mutate(OFFER, "a=sendrecv", "a=sendonly")), parse(mutate(ANSWER, "a=sendrecv", "a=recvonly"))
    )
    assert sendonly.sections[0].offerer_sends and not sendonly.sections[0].answerer_sends
    rejected = summarize(parse(OFFER), parse(mutate(ANSWER, "m=audio 9 ", "m=audio 0 ")))
    assert rejected.sections[0].rejected and rejected.sections[0].codec is None
    assert "rejected (port 0)" in format_summary(rejected)


def test_no_common_codec_summary():
    answer = keep_codecs(ANSWER, ["PCMU"]).replace("PCMU/8000", "PCMA/8000").replace("SAVPF 0", "SAVPF 8")
    answer = answer.replace("a=rtpmap:0 ", "a=rtpmap:8 ")
    summary = summarize(parse(OFFER), parse(answer))
    assert summary.sections[0].codec is None
    assert "none in common" in format_summary(summary)


def test_diff_by_section_and_attribute():
    edited = keep_codecs(OFFER, ["PCMU"]).replace("a=sendrecv", "a=recvonly") + "a=ptime:30\r\n"
    changes = {(c.section, c.change, c.key): c for c in diff(parse(OFFER), parse(edited))}
    assert changes[("audio (mid 0)", "changed", "m formats")].new == "0"
    assert changes[("audio (mid 0)", "changed", "direction")].old == "sendrecv"
    assert changes[("audio (mid 0)", "removed", "rtpmap:111")].old == "opus/48000/2"
    assert changes[("audio (mid 0)", "added", "ptime")].new == "30"
    assert ("audio (mid 0)", "removed", "fmtp:111") in changes
    assert len(changes) == 5
    # attribute order means nothing
    lines = OFFER.split("\r\n")
    shuffled = "\r\n".join(lines[:8] + list(reversed(lines[8:-1])) + [""])
    assert diff(parse(OFFER), parse(shuffled)) == []
    assert format_diff([]) == "no structural differences"


def test_diff_of_two_calls_from_one_stack_is_only_volatile():
    a, b = parse(TEXTS["aiortc_offer.sdp"]), parse(TEXTS["janus_offer.sdp"])
    keys = {c.key.split(":")[0].split(" ")[0] for c in diff(a, b)}
    assert keys <= {"m", "msid", "ssrc", "candidate", "ice-ufrag", "ice-pwd", "fingerprint", "o", "c"}
    assert diff(a, b, volatile=False) == []


def test_diff_matches_sections_by_mid_and_reports_added_sections():
    second = "\r\n".join(["m=audio 9 UDP/TLS/RTP/SAVPF 0", "a=mid:1", "a=rtpmap:0 PCMU/8000", ""])
    changes = diff(parse(OFFER), parse(OFFER + second))
    assert [(c.section, c.change, c.key) for c in changes] == [("audio (mid 1)", "added", "section")]


def test_chromium_vs_firefox_names_the_codec_differences():
    text = format_diff(diff(parse(TEXTS["chromium_offer.sdp"]), parse(TEXTS["firefox_offer.sdp"]), volatile=False))
    assert "~ m formats: 111 63 9 0 8 13 110 126 -> 109 9 0 8 101" in text
    assert "+ rtpmap:109 opus/48000/2" in text


def test_edits_keep_every_other_byte():
    text = TEXTS["chromium_offer.sdp"]
    edited = keep_codecs(text, ["pcmu", "telephone-event"])
    assert "m=audio 44716 UDP/TLS/RTP/SAVPF 0 110 126\r\n" in edited
    assert "opus" not in edited and "a=fmtp:63" not in edited
    kept = [line for line in text.split("\r\n") if line in edited.split("\r\n")]
    assert len(kept) == len(edited.split("\r\n")) - 1  # only the m= line is new
    no_tcp = drop_candidates(text, transports=["tcp"])
    assert " tcp " not in no_tcp and no_tcp.count("a=candidate") == 4
    lf = text.replace("\r\n", "\n")
    assert "\r" not in keep_codecs(lf, ["PCMU"])
