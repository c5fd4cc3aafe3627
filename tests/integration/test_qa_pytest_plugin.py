"""The pytest plugin as a user meets it: registered by entry point, ``voicedesk_call`` in their own test file."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.timeout(240)

USER_TESTS = """
from voicedesk.qa.scenario import Utterance

async def test_the_parrot_repeats(voicedesk_call):
    call = await voicedesk_call("embedded:parrot?delay=300")
    await call.silence(0.3)
    await call.say("testing one two three")
    turn = await call.wait_reply(timeout=15)
    assert turn.reply_start is not None and 0 < turn.voice_to_voice_ms < 5000
    result = await call.hangup()
    assert "one two three" in result.turns[0]["transcript"]
    assert result.setup_ms is not None

CALLER = '''
name: weather-caller
target: embedded:script?say=It is sunny.|It is sunny and warm.
caller:
  opening: what is the weather today
  max_turns: 3
  rules:
    - when: {contains: sunny}
      goal: true
      hangup: true
  otherwise: what is the weather today
  success: [goal, {agent_said: sunny}]
'''

async def test_a_caller_scenario_repeated(voicedesk_scenario):
    runs = await voicedesk_scenario(CALLER, repeat=2, parallel=2, seed=4)
    assert runs.pass_rate == 1.0 and runs.passed == 2 and not runs.flaky, runs
    assert [r.seed for r in runs.results] == [4, 5]
    for conversation in runs.conversations:
        assert conversation["ended"] == "the caller reached its goal and hung up"
        heard = conversation["turns"][1]
        assert heard["heard"] == "It is sunny." and heard["why"] == "rule at line 8"
    assert "2 of 2 runs passed" in str(runs)

async def test_a_bad_caller_block(voicedesk_scenario):
    await voicedesk_scenario("name: bad\\ntarget: embedded:echo\\ncaller:\\n  max_turns: 2\\n")

async def test_an_agent_that_fails_the_test(voicedesk_call):
    call = await voicedesk_call()  # the target comes from --voicedesk-target
    await call.say(Utterance(tone_hz=1000, seconds=0.5))
    turn = await call.wait_reply(timeout=2)
    assert turn.reply_start is not None, "the tone agent never stops, so this one passes"
    assert call.summary()["packets_received"] > 0
    assert False, "a failing test gets a report bundle"
"""


def test_users_write_agent_tests_with_the_fixture(pytester, tmp_path):
    pytester.makepyfile(test_agent=USER_TESTS)
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    reports = tmp_path / "reports"
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--voicedesk-target",
        "embedded:tone",
        "--voicedesk-report-dir",
        str(reports),
        timeout=200,
    )
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["*a failing test gets a report bundle*"])
    # a malformed caller: block fails its test with one line, where and what, before any call
    result.stdout.fnmatch_lines(["*<test_a_bad_caller_block>:4: caller: expected rules/otherwise*"])
    # only the failing test left a bundle, named after it
    assert [p.name for p in reports.iterdir()] == ["test_an_agent_that_fails_the_test"]
    bundle = reports / "test_an_agent_that_fails_the_test"
    assert (bundle / "report.html").exists() and (bundle / "received.wav").exists()


USERS_OWN_AIORTC = """
from aiortc import jitterbuffer, rtcrtpreceiver, rtcrtpsender, rtp


def aiortc_is_stock():
    return (
        rtcrtpreceiver.JitterBuffer is jitterbuffer.JitterBuffer
        and rtp.compute_audio_level_dbov.__module__ == "aiortc.rtp"
        and not hasattr(rtcrtpsender.RTCRtpSender, "_voicedesk_inline")
    )


def test_1_loading_the_plugin_changes_nothing():
    assert aiortc_is_stock()


async def test_2_a_voicedesk_call(voicedesk_call):
    call = await voicedesk_call("embedded:echo")
    await call.hangup()


def test_3_a_later_aiortc_peer_of_the_project(pytestconfig):
    assert aiortc_is_stock() is (not pytestconfig.getini("voicedesk_aiortc_patches"))
"""


@pytest.mark.parametrize("opt_out", [False, True])
def test_the_plugin_patches_aiortc_only_for_a_call_and_not_at_all_when_told(pytester, opt_out):
    pytester.makepyfile(test_own_peers=USERS_OWN_AIORTC)
    ini = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
    pytester.makeini(ini + ("voicedesk_aiortc_patches = false\n" if opt_out else ""))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=3)
