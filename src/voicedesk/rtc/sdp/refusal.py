"""Why a description was refused, in the lint rules' words.

aiortc refuses SDP it cannot use with whatever its parser tripped on: an
``AssertionError``, an ``AttributeError``, "'NoneType' object has no attribute
'role'". That names aiortc's code, not the fault. The linter (lint.py) names the
fault and its line, so the caller and the server both say what it found first and
keep aiortc's text as detail:

``line 9: a=setup:actpass in an answer [setup-actpass-in-answer] (aiortc: ValueError: …)``
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from voicedesk.errors import SdpError
from voicedesk.rtc.sdp.model import parse

if TYPE_CHECKING:
    from voicedesk.rtc.sdp.lint import Finding

# the linter (its ~70 rules) is imported when a description is refused, not with every call:
# rtc/call.py imports this module, and the window's start-up imports rtc/call.py


def first_error(text: str, role: str, *, offer: str | None = None) -> Finding | None:
    """The first error-level finding about ``text`` (an "offer" or "answer"), or None.

    With ``offer`` given, ``text`` is its answer and the pair's rules count too
    (an answer can be well formed and still not fit its offer)."""
    from voicedesk.rtc.sdp.lint import Severity, lint_pair, lint_text

    findings = lint_text(text, role)
    if offer is not None and not any(f.rule == "unparseable" for f in findings):
        try:
            findings = [f for f in lint_pair(parse(offer), parse(text)) if f.sdp == role]
        except SdpError:
            pass  # our own offer is not SDP: the answer's own findings still stand
    return next((f for f in findings if f.severity is Severity.ERROR), None)


def describe_finding(finding: Finding) -> str:
    """``line 9: MESSAGE [RULE]`` (without the line for a finding about the SDP as a whole)."""
    where = f"line {finding.line}: " if finding.line else ""
    return f"{where}{finding.message} [{finding.rule}]"


def refusal_reason(text: str, role: str, detail: str, *, offer: str | None = None, stack: str = "aiortc") -> str:
    """Why ``text`` was refused: the first error-level lint finding with ``stack``'s own
    ``detail`` in brackets, or ``detail`` alone when no rule finds a fault."""
    finding = first_error(text, role, offer=offer)
    if finding is None:
        return detail
    return f"{describe_finding(finding)} ({stack}: {detail})"


def unusable_bundle(text: str) -> str | None:
    """The bundle-unknown-mid finding, when a BUNDLE group's first mid (the one whose
    transport the others share) names no section and others follow it; None otherwise.

    aiortc accepts such a description and moves the other sections onto a transport
    that does not exist (None): its connect task then fails in the background
    ("'NoneType' object has no attribute 'transport'") and the call waits out its
    timeout as an ICE failure. A caller must refuse it before applying it."""
    try:
        desc = parse(text)
    except SdpError:
        return None  # applying it reports it
    mids = {m.mid for m in desc.media}
    for group in desc.bundle_groups():
        if len(group.mids) > 1 and group.mids[0] not in mids:
            from voicedesk.rtc.sdp.lint import Finding, Severity

            finding = Finding(
                "bundle-unknown-mid",
                Severity.ERROR,
                group.line,
                f"BUNDLE lists mid '{group.mids[0]}', which no section has",
            )
            return describe_finding(finding)
    return None


def rejected_audio(offer: str, answer: str) -> str | None:
    """Where ``answer`` rejects (port 0) every audio section ``offer`` wanted, in the words of
    the answer-rejects-media rule, or None. aiortc ignores the port and sends anyway, so such a call would look good
    while a real peer of that answer never plays or sends a sample."""
    try:
        offered, answered = parse(offer), parse(answer)
    except SdpError:
        return None  # applying the answer reports it
    pairs = [
        (o, a)
        for o, a in zip(offered.media, answered.media, strict=False)
        if o.kind == "audio" and a.kind == "audio" and not o.rejected
    ]
    if not pairs or not all(a.rejected for _, a in pairs):
        return None
    o, a = pairs[0]
    return f"line {a.line}: {o.label()} has port 0 [answer-rejects-media]"
