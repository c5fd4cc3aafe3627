"""The parser reads real SDPs into a model and gives back the input byte for byte."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.helpers.sdp import OFFER, fixture_texts
from voicedesk.errors import SdpError
from voicedesk.rtc.sdp import parse, parse_bytes

FIXTURES = fixture_texts()


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_real_sdps_round_trip_byte_for_byte(name):
    text = FIXTURES[name]
    assert parse(text).to_text() == text
    # the same SDP as pasted into a chat: LF endings, no final newline, a stray blank line
    for variant in (text.replace("\r\n", "\n"), text.rstrip("\r\n"), text + "\r\n", text.replace("\r\n", "\n", 3)):
        assert parse(variant).to_text() == variant
    assert parse_bytes(text.encode()).to_text() == text


def test_fixtures_are_the_stacks_they_say():
    assert "THIS_IS_SDPARTA" in FIXTURES["firefox_offer.sdp"]
    assert "a=rtpmap:111 opus/48000/2" in FIXTURES["chromium_offer.sdp"]
    assert "o=- " in FIXTURES["aiortc_answer.sdp"] and "a=setup:active" in FIXTURES["aiortc_answer.sdp"]
    assert "cname:janus" in FIXTURES["janus_answer.sdp"]


def test_chromium_offer_model():
    desc = parse(FIXTURES["chromium_offer.sdp"])
    assert desc.origin is not None and desc.origin.session_version == "2"
    assert [g.semantics for g in desc.groups] == ["BUNDLE"] and desc.groups[0].mids == ["0"]
    (audio,) = desc.media
    assert (audio.kind, audio.mid, audio.proto, audio.rtcp_mux, audio.rtcp_rsize) == (
        "audio",
        "0",
        "UDP/TLS/RTP/SAVPF",
        True,
        True,
    )
    assert list(audio.codecs) == [111, 63, 9, 0, 8, 13, 110, 126]
    opus = audio.codecs[111]
    assert (opus.name, opus.clock_rate, opus.channels) == ("opus", 48000, 2)
    assert opus.fmtp == {"minptime": "10", "useinbandfec": "1"}
    assert opus.rtcp_fb == ["transport-cc"]
    assert audio.codecs[0].describe() == "PCMU/8000"
    assert desc.setup_of(audio)[0] == "actpass"
    assert desc.ice_ufrag_of(audio)[0] and len(desc.ice_pwd_of(audio)[0]) >= 22
    assert desc.fingerprints_of(audio)[0].algorithm == "sha-256"
    assert {c.transport for c in audio.candidates} == {"udp", "tcp"}
    assert all(c.type == "host" for c in audio.candidates)
    assert [e.id for e in audio.extmaps] == [1, 2, 3, 4]
    assert len(audio.ssrcs) == 1
    assert desc.problems == []


def test_firefox_offer_model():
    desc = parse(FIXTURES["firefox_offer.sdp"])
    (audio,) = desc.media
    assert desc.direction == "sendrecv" and audio.direction == "sendrecv"  # Firefox says it at both levels
    assert audio.codecs[109].fmtp["useinbandfec"] == "1"
    assert audio.codecs[9].channels == 1 and audio.codecs[9].key == audio.codecs[9].key
    assert {c.component for c in audio.candidates} == {1, 2}
    assert audio.extmaps[1].direction == "recvonly"
    assert desc.problems == []


def test_session_level_values_are_inherited():
    desc = parse(FIXTURES["janus_answer.sdp"])
    (audio,) = desc.media
    assert audio.fingerprints == [] and desc.fingerprints_of(audio) == desc.fingerprints
    assert desc.direction_of(audio) == "sendrecv"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("", "empty"),
        ("   \r\n", "empty"),
        ('{"type": "offer", "sdp": "v=0"}', "line 1: not SDP"),
        ("<html>login</html>", "line 1: not SDP"),
        ("v=1\r\n", "line 1"),
        ("\ufeffv=0\r\n", "line 1: the text starts with a byte-order mark"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nhello\r\n", "line 3: not an SDP line"),
        ("v=0\r\n  a=rtcp-mux\r\n", "line 2"),
        ("v=0\r\nm=audio\r\n", "line 2: an m= line needs"),
        ("v=0\r\nm=audio nine RTP/AVP 0\r\n", "line 2: the port of an m= line must be a number"),
        ("v=0\r\nm=audio 70000 RTP/AVP 0\r\n", "line 2: m= port 70000"),
    ],
)
def test_not_sdp_is_an_sdp_error_with_the_line(text, shown):
    with pytest.raises(SdpError, match=shown):
        parse(text)


def test_trailing_blanks_after_v_are_a_finding_not_an_error():
    text = OFFER.replace("v=0\r\n", "v=0 \r\n")
    assert parse(text).to_text() == text


def test_bytes_that_are_not_utf8():
    with pytest.raises(SdpError, match="line 2: not SDP: the text is not UTF-8"):
        parse_bytes(b"v=0\r\ns=\xff\r\n")


def test_broken_values_are_kept_and_listed():
    text = OFFER.replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:0 PCMU").replace("typ relay", "typ")
    desc = parse(text)
    assert desc.to_text() == text
    assert sorted(p.line for p in desc.problems) == [19, 20]


# generated SDP: any mix of known and unknown lines, endings, blank lines --------------------

_value = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=30)
_attr = st.builds(
    lambda n, v: f"a={n}:{v}" if v else f"a={n}", st.from_regex(r"[a-z][a-z\-]{0,12}", fullmatch=True), _value
)
_line = st.one_of(
    _attr,
    st.builds(lambda t, v: f"{t}={v}", st.sampled_from(list("osiuepcbtrzkxyA")), _value),
    st.builds(
        lambda kind, port, pts: f"m={kind} {port} UDP/TLS/RTP/SAVPF {' '.join(map(str, pts))}",
        st.sampled_from(["audio", "video", "application"]),
        st.integers(0, 65535),
        st.lists(st.integers(0, 127), max_size=6),
    ),
    st.builds(
        lambda pt, name, rate: f"a=rtpmap:{pt} {name}/{rate}",
        st.integers(0, 127),
        st.sampled_from(["opus", "PCMU", "telephone-event", "x"]),
        st.integers(1, 96000),
    ),
    st.builds(lambda pt, p: f"a=fmtp:{pt} {p}", st.integers(0, 127), _value),
    st.just(""),
)
_ending = st.sampled_from(["\r\n", "\n", "\r"])


@st.composite
def generated_sdp(draw: st.DrawFn) -> str:
    lines = ["v=0", *draw(st.lists(_line, max_size=40))]
    endings = draw(st.lists(_ending, min_size=len(lines), max_size=len(lines)))
    if draw(st.booleans()):
        endings[-1] = ""  # no final newline
    return "".join(line + ending for line, ending in zip(lines, endings, strict=True))


@settings(max_examples=300, deadline=None)
@given(generated_sdp())
def test_generated_sdps_round_trip(text):
    try:
        desc = parse(text)
    except SdpError as exc:
        assert str(exc).startswith("line ")
        return
    assert desc.to_text() == text
    assert sum(1 for _ in desc.media) == sum(1 for line in desc.lines if line.text.startswith("m="))


def test_sdp_candidates_pass_over_bad_lines_and_keep_line_numbers():
    from voicedesk.rtc.call import candidates_in
    from voicedesk.rtc.sdp.model import parse_candidate_line, sdp_candidates

    sdp = (
        "v=0\r\n"
        "a=candidate:1 1 UDP 2130706431 10.0.0.2 50000 typ host\r\n"
        "a=candidate:broken\r\n"
        "a=candidate:2 1 udp 1694498815 203.0.113.5 61000 typ srflx raddr 10.0.0.2 rport 50000\r\n"
        "a=candidate:3 1 tcp 1 10.0.0.2 notaport typ host\r\n"
    )
    found = sdp_candidates(sdp)
    assert [(c.line, c.type, c.related_port) for c in found] == [(2, "host", None), (4, "srflx", 50000)]
    assert candidates_in(sdp) == ["host udp 10.0.0.2:50000", "srflx udp 203.0.113.5:61000"]
    assert parse_candidate_line("a=mid:0") is None and sdp_candidates(None) == []
