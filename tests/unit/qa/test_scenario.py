"""Scenario files: what is accepted, and bad files rejected with file:line and what was expected."""

from __future__ import annotations

import pytest

from voicedesk.qa.scenario import Bound, ScenarioError, load_scenarios, parse_scenarios

GOOD = """\
name: weather
target: embedded:voice
timeout: 10
impair: loss=1%
vocabulary: [sunny and warm]
golden: {tolerance_ms: 300, transcripts: false}
steps:
  - silence: 0.5
  - say: what is the weather today
  - wait_reply: {timeout: 12}
  - expect_transcript: {contains: [sunny, warm], matches: "sunny.*today"}
  - expect:
      voice_to_voice_ms: {max: 3000}
      loss_pct: 1
      mos: {min: 3.5}
  - say: {tone: 1000, seconds: 0.5}
  - barge_in: {after_ms: 300, say: stop}
  - impair: down.loss=10%
  - wait_reply
  - hangup
"""


def test_a_full_scenario_is_read_with_every_step():
    [s] = parse_scenarios(GOOD, "weather.yaml")
    assert s.name == "weather" and s.target == "embedded:voice" and s.timeout == 10 and s.impair == "loss=1%"
    assert s.golden.tolerance_ms == 300 and s.golden.transcripts is False
    kinds = [step.kind for step in s.steps]
    assert kinds == [
        "silence",
        "say",
        "wait_reply",
        "expect_transcript",
        "expect",
        "say",
        "barge_in",
        "impair",
        "wait_reply",
        "hangup",
    ]
    assert s.steps[1].say.text == "what is the weather today" and s.steps[1].line == 9
    assert s.steps[2].timeout == 12
    assert s.steps[3].contains == ("sunny", "warm") and s.steps[3].matches == "sunny.*today"
    assert dict(s.steps[4].bounds) == {
        "voice_to_voice_ms": Bound(max=3000),
        "loss_pct": Bound(max=1),
        "mos": Bound(min=3.5),
    }
    assert s.steps[5].say.tone_hz == 1000 and s.steps[5].say.seconds == 0.5
    assert s.steps[6].after_ms == 300 and s.steps[6].say.text == "stop"
    # what the recognizer should know: said texts, expected words, vocabulary
    assert {"what is the weather today", "sunny", "warm", "sunny and warm"} <= set(s.phrases())


def test_several_scenarios_in_one_file_are_named_after_it():
    text = "target: embedded:echo\nsteps: [hangup]\n---\ntarget: embedded:tone\nsteps: [hangup]\n"
    scenarios = parse_scenarios(text, "dir/pair.yaml")
    assert [s.name for s in scenarios] == ["pair-1", "pair-2"]
    assert scenarios[1].line == 4


@pytest.mark.parametrize(
    ("text", "line", "expected"),
    [
        # unknown step
        ("steps:\n  - say: hi\n  - shout: hello\n", 3, "unknown step 'shout'; expected one of say, wait_reply"),
        # wrong type
        ("steps:\n  - silence: a while\n", 2, "step 1 (silence) (seconds): expected a number, got text ('a while')"),
        ("steps:\n  - wait_reply: {timeout: soon}\n", 2, "step 1 (wait_reply).timeout: expected a number"),
        ("target: [a, b]\nsteps: [hangup]\n", 1, "target: expected text, got a list"),
        ("steps:\n  - expect: {loss_pct: {max: lots}}\n", 2, "step 1 (expect).loss_pct.max: expected a number"),
        ("steps: hangup\n", 1, "steps: expected a list of at least one step, got text ('hangup')"),
        ("golden: {transcripts: maybe}\nsteps: [hangup]\n", 1, "golden.transcripts: expected true or false"),
        # missing field
        ("target: embedded:echo\n", 1, "scenario: missing 'steps'"),
        ("steps:\n  - say: hi\n  - barge_in: {after_ms: 200}\n", 3, "step 2 (barge_in): missing 'say'"),
        ("steps:\n  - expect_transcript: {}\n", 2, "expected contains and/or matches"),
        # unknown keys and values
        ("steps:\n  - expect:\n      latency: 3\n", 3, "unknown key 'latency'; expected one of setup_ms"),
        ("target: x\nsteps: [hangup]\nretries: 3\n", 3, "scenario: unknown key 'retries'"),
        ("steps:\n  - say: {text: hi, tone: 400}\n", 2, "expected exactly one of text, wav or tone, got text, tone"),
        ("steps:\n  - say: {tone: 5}\n", 2, "expected a frequency 20–20000 Hz, got 5"),
        ("steps:\n  - impair: loss=lots\n", 2, "step 1 (impair): bad impairment 'loss=lots'"),
        ("steps:\n  - expect_transcript: {matches: '('}\n", 2, "matches: not a regular expression"),
        ("steps:\n  - barge_in: {say: stop}\n", 2, "step 1 (barge_in): expected a say step before it"),
        ("stt: fancy\nsteps: [hangup]\n", 1, "stt: expected constrained or open, got 'fancy'"),
        # numbers that would never end, or are out of range (the command line's check, voicedesk/limits.py)
        ("steps:\n  - silence: .nan\n", 2, "step 1 (silence) (seconds): expected a number ≥ 0, got nan"),
        ("steps:\n  - silence: .inf\n", 2, "step 1 (silence) (seconds): expected a number ≥ 0, got inf"),
        ("steps:\n  - silence: -1\n", 2, "step 1 (silence) (seconds): expected a number ≥ 0, got -1"),
        ("timeout: .NaN\nsteps: [hangup]\n", 1, "timeout: expected a number ≥ 0, got nan"),
        ("steps:\n  - wait_reply: {timeout: .inf}\n", 2, "step 1 (wait_reply).timeout: expected a number ≥ 0"),
        ("steps:\n  - say: {tone: .nan}\n", 2, "step 1 (say).tone: expected a number ≥ 0, got nan"),
        ("steps:\n  - expect: {loss_pct: {max: .nan}}\n", 2, "loss_pct.max: expected a finite number, got nan"),
        ("steps:\n  - silence: 1" + "0" * 400 + "\n", 2, "step 1 (silence) (seconds): expected a number ≥ 0, got inf"),
        # keypad tones
        ("steps:\n  - dtmf: 12x\n", 2, "step 1 (dtmf): bad DTMF digits '12x': 'X' is not one of 0-9"),
        ("steps:\n  - dtmf: {tones: '1', mode: loud}\n", 2, "DTMF mode must be one of auto, rfc4733, inband"),
        ("steps:\n  - dtmf: {mode: auto}\n", 2, "step 1 (dtmf): missing 'tones'"),
        ("steps:\n  - dtmf: {tones: '1', duration_ms: 10}\n", 2, "duration_ms: expected 40-6000 ms, got 10"),
        # not YAML, or empty
        ("steps: [\n", 2, "not valid YAML"),
        ("", 1, "the file is empty"),
    ],
)
def test_bad_scenarios_say_file_line_and_what_was_expected(text, line, expected):
    with pytest.raises(ScenarioError) as caught:
        parse_scenarios(text, "bad.yaml")
    message = str(caught.value)
    assert message.startswith(f"bad.yaml:{line}: "), message
    assert expected in message, message


def test_a_wav_is_found_next_to_the_scenario(tmp_path):
    (tmp_path / "hello.wav").write_bytes(b"RIFF")
    path = tmp_path / "s.yaml"
    path.write_text("steps:\n  - say: {wav: hello.wav}\n")
    [s] = load_scenarios(path)
    assert s.steps[0].say.wav == str(tmp_path / "hello.wav")
    path.write_text("steps:\n  - say: {wav: missing.wav}\n")
    with pytest.raises(ScenarioError, match=r"s\.yaml:2: step 1 \(say\)\.wav: no such file .*missing\.wav"):
        load_scenarios(path)
    (tmp_path / "prompts").mkdir()
    path.write_text("steps:\n  - say: {wav: prompts}\n")
    with pytest.raises(ScenarioError, match=r"s\.yaml:2: step 1 \(say\)\.wav: .*prompts is a directory, not an audio"):
        load_scenarios(path)


def test_an_unreadable_file_is_one_clear_line(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read the scenario"):
        load_scenarios(tmp_path / "nope.yaml")
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ScenarioError, match="not a text file"):
        load_scenarios(binary)


def test_steps_that_need_the_call_cannot_follow_hangup():
    with pytest.raises(ScenarioError, match=r"h\.yaml:4: step 3 \(say\): the call is hung up before it"):
        parse_scenarios("steps:\n  - say: hi\n  - hangup\n  - say: again\n", "h.yaml")
    [s] = parse_scenarios("steps:\n  - say: hi\n  - hangup\n  - expect: {setup_ms: 9000}\n", "h.yaml")
    assert [step.kind for step in s.steps] == ["say", "hangup", "expect"]


def test_an_ice_mapping_in_a_scenario_becomes_the_calls_configuration():
    from voicedesk.errors import ConfigError
    from voicedesk.qa.runner import ScenarioRun

    text = (
        "target: embedded:echo\nice:\n  iceServers:\n    - urls: turn:turn.example.com:3478\n"
        "      username: u\n      credential: p\n  iceTransportPolicy: relay\nsteps: [hangup]\n"
    )
    [s] = parse_scenarios(text, "ice.yaml")
    run = ScenarioRun(s)
    assert run.ice.iceTransportPolicy == "relay" and run.ice.uses_turn
    [bad] = parse_scenarios(text.replace("turn:turn", "tern:turn"), "ice.yaml")
    with pytest.raises(ConfigError):
        ScenarioRun(bad)


def test_the_media_timeout_is_five_seconds_unless_the_scenario_says_otherwise():
    [default] = parse_scenarios("steps: [hangup]", "a.yaml")
    assert default.media_timeout == 5.0
    [off] = parse_scenarios("media_timeout: 0\nsteps: [hangup]", "b.yaml")
    assert off.media_timeout == 0
    with pytest.raises(ScenarioError, match=r"c\.yaml:1: media_timeout: .*nan"):
        parse_scenarios("media_timeout: .nan\nsteps: [hangup]", "c.yaml")


def test_a_dtmf_step_is_read_short_or_long():
    [scenario] = parse_scenarios(
        "steps:\n  - dtmf: '1#'\n  - dtmf: {tones: 9a, mode: RFC4733, duration_ms: 120, gap_ms: 80}\n"
    )
    short, full = scenario.steps
    assert (short.dtmf.tones, short.dtmf.mode, short.dtmf.duration_ms, short.dtmf.gap_ms) == ("1#", "auto", 100.0, 70.0)
    assert (full.dtmf.tones, full.dtmf.mode, full.dtmf.duration_ms, full.dtmf.gap_ms) == ("9A", "rfc4733", 120.0, 80.0)
    assert full.describe() == "DTMF '9A' (rfc4733)"
