"""A scenario's conditions: key and the robustness metrics its expect steps take."""

from __future__ import annotations

import pytest

from voicedesk.media.conditions import EchoSpec, InsertSpec, NoiseSpec
from voicedesk.qa.scenario import METRICS, ScenarioError, parse_scenarios

SCENARIO = """\
name: speakerphone
target: embedded:voice
conditions:
  noise: babble:10
  echo: {delay_ms: 150, erl_db: 12, speaker: on}
  backchannels: [mm-hmm@700]
  pause_ms: 500
  seed: 4
steps:
  - say: what can you do
  - expect: {self_interruptions: {max: 0}, false_interruptions: 0, early_turn_takings: 0, noise_snr_db: {min: 9}}
"""


def test_conditions_are_read_into_the_scenario() -> None:
    (scenario,) = parse_scenarios(SCENARIO, "s.yaml")
    c = scenario.conditions
    assert c is not None
    assert (c.noise, c.echo, c.inserts, c.pause_ms, c.seed) == (
        NoiseSpec("babble", 10.0),
        EchoSpec(150.0, 12.0, True),
        (InsertSpec("mm-hmm", 700.0),),
        500.0,
        4,
    )
    names = [name for name, _ in scenario.steps[1].bounds]
    assert names == ["self_interruptions", "false_interruptions", "early_turn_takings", "noise_snr_db"]
    assert all(name in METRICS for name in names)


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        (
            "  reverb: 2",
            "s.yaml:4: conditions: unknown condition 'reverb'; use noise, echo, backchannels, pause_ms, voice, seed",
        ),
        (
            "  noise: {kind: white, snr_db: 80}",
            "s.yaml:4: conditions: noise SNR: expected an SNR in dB ≥ -10 and ≤ 60, got 80",
        ),
        ("  backchannels: [sneeze@100]", "s.yaml:4: conditions: unknown backchannel 'sneeze'"),
    ],
)
def test_bad_conditions_say_file_and_line(conditions: str, expected: str) -> None:
    text = f"name: x\ntarget: embedded:voice\nconditions:\n{conditions}\nsteps:\n  - say: hello\n"
    with pytest.raises(ScenarioError) as caught:
        parse_scenarios(text, "s.yaml")
    assert str(caught.value).startswith(expected), str(caught.value)


def test_a_list_of_voices_runs_the_scenario_once_per_voice() -> None:
    text = SCENARIO.replace("  seed: 4\n", "  seed: 4\n  voice: [{volume_db: -25}, {voice: en-us+f3, rate: 200}]\n")
    quiet, other = parse_scenarios(text, "s.yaml")
    assert quiet.name == "speakerphone [caller volume_db -25]" and quiet.conditions.voice.volume_db == -25
    assert other.conditions.voice.voice == "en-us+f3" and other.conditions.voice.rate == 200
    assert quiet.conditions.noise == other.conditions.noise == NoiseSpec("babble", 10.0)
