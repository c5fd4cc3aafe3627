"""Every lint rule fires on a minimal bad example, on the right line; real SDPs raise no error."""

from __future__ import annotations

import pytest

from tests.helpers.sdp import ANSWER, OFFER, fixture_texts, mutate
from voicedesk.rtc.sdp import parse
from voicedesk.rtc.sdp.lint import RULES, Severity, has_errors, lint, lint_pair, lint_text

M_LINE = "m=audio 9 UDP/TLS/RTP/SAVPF 111 0"
CAND = "a=candidate:1 1 udp 41885439 203.0.113.5 50000 typ relay raddr 192.0.2.1 rport 40000"
SECOND_SECTION = "\r\n".join(
    [M_LINE, "a=mid:1", "a=rtcp-mux", "a=rtpmap:111 opus/48000/2", "a=fmtp:111 useinbandfec=1", ""]
)


def host(address: str) -> str:
    return mutate(OFFER, CAND, f"a=candidate:1 1 udp 2130706431 {address} 50000 typ host")


def add(text: str, line: str, after: str = "a=rtcp-mux") -> str:
    return mutate(text, after + "\r\n", f"{after}\r\n{line}\r\n")


# rule -> (offer text, answer text or None, role for a single SDP, text on the line the finding points at)
SINGLE = {
    "malformed-line": (mutate(OFFER, "a=rtpmap:0 PCMU/8000", "a=rtpmap:0 PCMU"), "a=rtpmap:0"),
    "missing-origin": (mutate(OFFER, "o=- 1 1 IN IP4 0.0.0.0\r\n", ""), None),
    "missing-session-name": (mutate(OFFER, "s=-\r\n", ""), None),
    "missing-timing": (mutate(OFFER, "t=0 0\r\n", ""), None),
    "duplicate-session-line": (mutate(OFFER, "s=-\r\n", "s=-\r\ns=again\r\n"), "s=again"),
    "session-line-order": (mutate(OFFER, "s=-\r\nt=0 0", "t=0 0\r\ns=-"), "s=-"),
    "unknown-line-type": (OFFER + "x=whatever\r\n", "x=whatever"),
    "blank-line": (mutate(OFFER, "t=0 0\r\n", "t=0 0\r\n\r\n"), ""),
    "trailing-whitespace": (mutate(OFFER, "qrstuv\r\n", "qrstuv \r\n"), "a=ice-pwd"),
    "mixed-line-endings": (mutate(OFFER, "s=-\r\n", "s=-\n"), "s=-"),
    "lf-line-endings": (OFFER.replace("\r\n", "\n"), "v=0"),
    "no-media": (OFFER.split("m=audio")[0], None),
    "missing-fingerprint": (mutate(OFFER, "a=fingerprint", "a=x-fingerprint"), M_LINE),
    "bad-fingerprint": (mutate(OFFER, "sha-256 ", "sha-256 AB:CD "), "a=fingerprint"),
    "insecure-proto": (mutate(OFFER, "UDP/TLS/RTP/SAVPF", "RTP/AVP"), "m=audio"),
    "missing-ice-ufrag": (mutate(OFFER, "a=ice-ufrag:abcd\r\n", ""), M_LINE),
    "missing-ice-pwd": (mutate(OFFER, "a=ice-pwd:abcdefghijklmnopqrstuv\r\n", ""), M_LINE),
    "ice-credential-length": (mutate(OFFER, "a=ice-ufrag:abcd", "a=ice-ufrag:ab"), "a=ice-ufrag:ab"),
    "ice-lite-in-media": (add(OFFER, "a=ice-lite"), "a=ice-lite"),
    "missing-setup": (mutate(OFFER, "a=setup:actpass\r\n", ""), M_LINE),
    "setup-holdconn": (mutate(OFFER, "setup:actpass", "setup:holdconn"), "a=setup:holdconn"),
    "no-candidates": (mutate(mutate(OFFER, CAND + "\r\n", ""), "a=ice-options:trickle\r\n", ""), M_LINE),
    "mdns-candidate": (host("0f3a9c1e-7d2b-4c11-9a55-3e2f8b7c6d10.local"), "a=candidate"),
    "link-local-candidate": (host("169.254.10.20"), "a=candidate"),
    "unroutable-candidate": (host("0.0.0.0"), "a=candidate"),
    "loopback-candidate": (host("127.0.0.1"), "a=candidate"),
    "private-candidates-only": (host("192.168.1.20"), "a=candidate"),
    "bad-candidate-type": (mutate(OFFER, "typ relay", "typ bogus"), "a=candidate"),
    "duplicate-candidate": (mutate(OFFER, CAND, f"{CAND}\r\n{CAND}"), "a=candidate"),
    "missing-rtcp-mux": (mutate(OFFER, "a=rtcp-mux\r\n", ""), M_LINE),
    "duplicate-payload-type": (mutate(OFFER, "SAVPF 111 0", "SAVPF 111 0 0"), "m=audio"),
    "missing-rtpmap": (mutate(OFFER, "SAVPF 111 0", "SAVPF 111 0 96"), "m=audio"),
    "orphan-payload-attribute": (add(OFFER, "a=fmtp:97 apt=111"), "a=fmtp:97"),
    "static-payload-remapped": (mutate(OFFER, "a=rtpmap:0 PCMU/8000", "a=rtpmap:0 PCMA/8000"), "a=rtpmap:0"),
    "odd-ptime": (add(OFFER, "a=ptime:25"), "a=ptime:25"),
    "ptime-above-maxptime": (add(OFFER, "a=ptime:60\r\na=maxptime:40"), "a=ptime:60"),
    "opus-no-fec": (mutate(OFFER, "useinbandfec=1", "useinbandfec=0"), "a=fmtp:111"),
    "opus-rtpmap": (mutate(OFFER, "opus/48000/2", "opus/48000"), "a=rtpmap:111"),
    "opus-fmtp-range": (mutate(OFFER, "minptime=10", "maxaveragebitrate=9999999"), "a=fmtp:111"),
    "rtx-unknown-apt": (
        add(mutate(OFFER, "SAVPF 111 0", "SAVPF 111 0 97"), "a=rtpmap:97 rtx/48000\r\na=fmtp:97 apt=100"),
        "a=fmtp:97",
    ),
    "dtmf-clock-mismatch": (
        add(mutate(OFFER, "SAVPF 111 0", "SAVPF 111 0 101"), "a=rtpmap:101 telephone-event/16000"),
        "a=rtpmap:101",
    ),
    "missing-mid": (mutate(OFFER, "a=mid:0\r\n", ""), M_LINE),
    "duplicate-mid": (OFFER + SECOND_SECTION.replace("a=mid:1", "a=mid:0"), "a=mid:0"),
    "bundle-unknown-mid": (mutate(OFFER, "BUNDLE 0", "BUNDLE 0 7"), "a=group:BUNDLE"),
    "not-bundled": (OFFER + SECOND_SECTION, M_LINE),
    "bundle-transport-mismatch": (
        mutate(OFFER, "BUNDLE 0", "BUNDLE 0 1") + SECOND_SECTION.replace("a=mid:1", "a=mid:1\r\na=ice-ufrag:efgh"),
        M_LINE,
    ),
    "missing-sctp-port": (
        mutate(OFFER, "BUNDLE 0", "BUNDLE 0 1")
        + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n",
        "m=application",
    ),
    "conflicting-direction": (add(OFFER, "a=recvonly"), "a=recvonly"),
    "duplicate-extmap-id": (
        add(OFFER, "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=extmap:1 urn:ietf:params:rtp-hdrext:toffset"),
        "a=extmap:1 urn:ietf:params:rtp-hdrext:toffset",
    ),
    "extmap-id-range": (add(OFFER, "a=extmap:20 urn:ietf:params:rtp-hdrext:sdes:mid"), "a=extmap:20"),
    "rejected-media": (mutate(OFFER, "m=audio 9 ", "m=audio 0 "), "m=audio 0"),
    "ssrc-group-unknown": (add(OFFER, "a=ssrc-group:FID 11 22"), "a=ssrc-group"),
}

SECTION_ANSWER = ANSWER + SECOND_SECTION.replace("a=mid:1", "a=mid:1")
PAIRS = {
    "setup-actpass-in-answer": (OFFER, mutate(ANSWER, "setup:active", "setup:actpass"), "a=setup:actpass"),
    "answer-adds-media": (OFFER, SECTION_ANSWER, M_LINE),
    "answer-missing-media": (OFFER + SECOND_SECTION, ANSWER, None),
    "media-kind-mismatch": (OFFER, mutate(ANSWER, "m=audio", "m=video"), "m=video"),
    "mid-mismatch": (OFFER, mutate(ANSWER, "a=mid:0", "a=mid:5"), "a=mid:5"),
    "no-common-codec": (
        OFFER,
        mutate(
            mutate(mutate(ANSWER, "SAVPF 111 0", "SAVPF 8"), "a=rtpmap:111 opus/48000/2\r\n", ""),
            "a=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:0 PCMU/8000",
            "a=rtpmap:8 PCMA/8000",
        ),
        "m=audio",
    ),
    "answer-codec-not-offered": (
        OFFER,
        add(mutate(ANSWER, "SAVPF 111 0", "SAVPF 111 0 8"), "a=rtpmap:8 PCMA/8000", "a=rtpmap:0 PCMU/8000"),
        "a=rtpmap:8",
    ),
    "payload-type-changed": (OFFER, ANSWER.replace("111", "109"), "a=rtpmap:109"),
    "direction-mismatch": (
        mutate(OFFER, "a=sendrecv", "a=sendonly"),
        mutate(ANSWER, "a=sendrecv", "a=sendonly"),
        "a=sendonly",
    ),
    "no-media-flow": (OFFER, mutate(ANSWER, "a=sendrecv", "a=inactive"), "a=inactive"),
    "bundle-answer-mismatch": (mutate(OFFER, "a=group:BUNDLE 0\r\n", ""), ANSWER, "a=group:BUNDLE"),
    "dtls-role-conflict": (
        mutate(OFFER, "setup:actpass", "setup:active"),
        ANSWER,
        "a=setup:active",
    ),
    "ice-lite-both": (
        mutate(OFFER, "t=0 0\r\n", "t=0 0\r\na=ice-lite\r\n"),
        mutate(ANSWER, "t=0 0\r\n", "t=0 0\r\na=ice-lite\r\n"),
        "a=ice-lite",
    ),
    "answer-rejects-media": (OFFER, mutate(ANSWER, "m=audio 9 ", "m=audio 0 "), "m=audio 0"),
}


def test_the_good_examples_are_clean():
    assert lint(parse(OFFER)) == []
    assert lint(parse(ANSWER)) == []
    assert lint_pair(parse(OFFER), parse(ANSWER)) == []


def test_every_rule_has_a_bad_example():
    assert set(SINGLE) | set(PAIRS) | {"unparseable"} == set(RULES)


@pytest.mark.parametrize("rule", sorted(SINGLE))
def test_rule_fires_on_its_line(rule):
    text, at = SINGLE[rule]
    desc = parse(text)
    assert desc.to_text() == text
    found = [f for f in lint(desc) if f.rule == rule]
    assert found, [f.format() for f in lint(desc)]
    finding = found[0]
    assert finding.severity == RULES[rule].severity
    assert finding.message
    assert 1 <= finding.line <= len(desc.lines)
    if at is not None:
        assert desc.line(finding.line).text.startswith(at), (finding.format(), desc.line(finding.line).text)


@pytest.mark.parametrize("rule", sorted(PAIRS))
def test_pair_rule_fires_on_its_line(rule):
    offer_text, answer_text, at = PAIRS[rule]
    offer, answer = parse(offer_text), parse(answer_text)
    found = [f for f in lint_pair(offer, answer) if f.rule == rule]
    assert found, [f.format() for f in lint_pair(offer, answer)]
    finding = found[0]
    desc = offer if finding.sdp == "offer" else answer
    assert finding.sdp in ("offer", "answer")
    if at is not None:
        assert desc.line(finding.line).text.startswith(at), (finding.format(), desc.line(finding.line).text)


def test_not_sdp_is_one_unparseable_finding_with_a_line():
    (finding,) = lint_text("<html>login</html>\r\n")
    assert (finding.rule, finding.severity, finding.line) == ("unparseable", Severity.ERROR, 1)
    assert "v=0" in finding.message
    (finding,) = lint_text("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nthis is not sdp\r\n")
    assert finding.line == 3


def test_actpass_in_an_answer_is_caught_when_the_role_is_known():
    text = mutate(ANSWER, "setup:active", "setup:actpass")
    assert "setup-actpass-in-answer" in {f.rule for f in lint(parse(text), "answer")}
    assert "setup-actpass-in-answer" not in {f.rule for f in lint(parse(text))}  # looks like an offer


@pytest.mark.parametrize("name", sorted(fixture_texts()))
def test_real_sdps_have_no_error(name):
    findings = lint(parse(fixture_texts()[name]))
    assert not has_errors(findings), [f.format(name) for f in findings]


def test_real_pairs_have_no_error():
    texts = fixture_texts()
    pairs = [("aiortc", "aiortc"), ("janus", "janus"), ("voicedesk_call", "voicedesk_call")]
    for offer, answer in ((f"{o}_offer.sdp", f"{a}_answer.sdp") for o, a in pairs):
        findings = lint_pair(parse(texts[offer]), parse(texts[answer]))
        assert not has_errors(findings), [f.format() for f in findings]


def test_what_real_sdps_do_show():
    texts = fixture_texts()
    # aiortc offers Opus without in-band FEC; Safari hides host addresses behind mDNS names
    assert "opus-no-fec" in {f.rule for f in lint(parse(texts["aiortc_offer.sdp"]))}
    assert "mdns-candidate" in {f.rule for f in lint(parse(texts["safari_shaped_offer.sdp"]))}
    assert "opus-no-fec" not in {f.rule for f in lint(parse(texts["chromium_offer.sdp"]))}
