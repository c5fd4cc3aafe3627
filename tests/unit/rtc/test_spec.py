"""CallSpec: one typed description of a call that every builder fills the same way."""

from __future__ import annotations

import math

import pytest

from voicedesk.errors import ConfigError
from voicedesk.rtc.call import Call
from voicedesk.rtc.impair import PRESETS, ImpairmentSpec
from voicedesk.rtc.impair_schedule import ImpairmentSchedule, ScheduledImpairment, parse_schedule
from voicedesk.rtc.spec import CallSpec


def test_a_spec_builds_the_call_it_describes() -> None:
    spec = CallSpec(
        "http://127.0.0.1:9/offer", signaling="whip", source="tone:700", timeout=4.0, headers={"X-Team": "qa"}
    )
    call = Call.from_spec(spec)
    assert call.target == "whip+http://127.0.0.1:9/offer"
    assert call.signaling.description.startswith("WHIP")
    assert call.timeout == 4.0 and call.source.frequency == 700  # type: ignore[attr-defined]
    assert call.impairment is None and call.extensions == ()


@pytest.mark.parametrize("timeout", [0.0, -1.0, math.nan, math.inf])
def test_a_timeout_that_is_not_a_positive_number_is_refused(timeout: float) -> None:
    with pytest.raises(ConfigError, match="set-up timeout must be a number of seconds > 0"):
        CallSpec("embedded:echo", timeout=timeout)


def test_a_schedule_puts_the_call_through_the_relay_and_attaches_itself() -> None:
    spec = CallSpec("embedded:echo", impair_schedule=parse_schedule(["5:loss=20%", "1:delay=80ms"]))
    assert [s.at_s for s in spec.impair_schedule] == [1.0, 5.0]  # earliest first
    call = Call.from_spec(spec)
    assert call.impairment == ImpairmentSpec()  # a clean relay, changed later
    assert any(isinstance(e, ImpairmentSchedule) for e in call.extensions)


@pytest.mark.parametrize("value", ["nan:loss=5%", "-1:loss=5%", "inf:loss=5%", "5", "x:loss=5%"])
def test_a_bad_schedule_entry_says_how_to_write_one(value: str) -> None:
    with pytest.raises(ConfigError, match=r"bad --impair-at .*use SECONDS:SPEC"):
        ScheduledImpairment.parse(value)


def test_a_bad_figure_in_a_schedule_is_refused_before_the_call() -> None:
    with pytest.raises(ConfigError, match="loss must be 0–100"):
        ScheduledImpairment.parse("5:loss=300%")


def test_presets_are_the_same_for_the_window_and_the_command_line() -> None:
    assert ImpairmentSpec.parse("Poor 3G") == ImpairmentSpec.parse(PRESETS["Poor 3G"])
    assert ImpairmentSpec.parse("poor-3g") == ImpairmentSpec.parse(PRESETS["Poor 3G"])
    assert ImpairmentSpec.parse("congested uplink").up.loss_pct == 8.0
    with pytest.raises(ConfigError, match="bad impairment"):
        ImpairmentSpec.parse("Dial-up")


def test_sdp_editors_are_set_before_a_call_starts_only() -> None:
    async def keep(sdp: str) -> str:
        return sdp

    call = Call.from_spec(CallSpec("embedded:echo", edit_offer=keep))
    assert call.edit_offer is keep and call.edit_answer is None
    call.set_sdp_editors(answer=keep)
    assert call.edit_answer is keep
