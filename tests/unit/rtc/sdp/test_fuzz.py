"""Mutated real offers: the parser, linter, summary, diff and edits raise nothing but SdpError."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.sdp import fixture_texts
from voicedesk.errors import SdpError
from voicedesk.rtc.sdp import parse
from voicedesk.rtc.sdp.diff import diff, format_diff
from voicedesk.rtc.sdp.edit import drop_candidates, keep_codecs
from voicedesk.rtc.sdp.lint import lint, lint_pair, lint_text
from voicedesk.rtc.sdp.summary import format_summary, summarize

TEXTS = fixture_texts()
OFFERS = [t for n, t in sorted(TEXTS.items()) if "offer" in n]
ANSWER = TEXTS["aiortc_answer.sdp"]
TOKENS = [
    "0",
    "-1",
    "65536",
    "99999999999999999999",
    "",
    " ",
    "x",
    "a=",
    ":",
    "/",
    "=",
    "nan",
    "1e309",
    "²",
    "٣",
    "1_0",
    "\t",
    "\x00",
    "é",
    "typ",
    "BUNDLE",
    "actpass",
    "sha-256",
    "opus",
    "111",
    "96",
    ".local",
    "::",
    "0.0.0.0",
]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(OFFERS)).split("\r\n")
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "token", "chars", "truncate", "splice", "ending"]))
        i = draw(st.integers(0, len(lines) - 1)) if lines else 0
        if not lines:
            lines = ["v=0"]
        elif op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "token":
            # replace one whitespace/colon/slash separated field of the line
            line = lines[i]
            seps = [k for k, ch in enumerate(line) if ch in " :/=;"] or [len(line)]
            k = draw(st.sampled_from(seps))
            end = next((m for m in seps if m > k), len(line))
            lines[i] = line[: k + 1] + draw(st.sampled_from(TOKENS)) + line[end:]
        elif op == "chars":
            line = lines[i]
            k = draw(st.integers(0, len(line)))
            lines[i] = line[:k] + draw(st.text(max_size=5)) + line[k + draw(st.integers(0, 3)) :]
        elif op == "truncate":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        elif op == "splice":
            lines.insert(i, draw(st.sampled_from(draw(st.sampled_from(list(TEXTS.values()))).split("\r\n"))))
        elif op == "ending":
            lines[i] += draw(st.sampled_from(["\n", "\r", " "]))
    return "\r\n".join(lines)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_offers_raise_only_sdp_error(text):
    lint_text(text)
    lint_text(text, "answer")
    try:
        desc = parse(text)
    except SdpError:
        return
    assert desc.to_text() == text
    lint(desc)
    answer = parse(ANSWER)
    for offer, ans in ((desc, answer), (answer, desc), (desc, desc)):
        lint_pair(offer, ans)
        format_summary(summarize(offer, ans))
        format_diff(diff(offer, ans))
        diff(offer, ans, volatile=False)
    for edit in (lambda t: keep_codecs(t, ["PCMU"]), lambda t: drop_candidates(t, ["host"], ["tcp"])):
        try:
            edited = edit(text)
        except SdpError:
            continue
        lint_text(edited)
