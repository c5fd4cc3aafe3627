"""Caller conditions as users write them: parsed, checked, refused in one line."""

from __future__ import annotations

import pytest

from voicedesk.errors import ConfigError
from voicedesk.media.conditions import CallerVoice, Conditions, EchoSpec, InsertSpec, NoiseSpec


def test_noise_kinds_and_snr() -> None:
    assert NoiseSpec.parse("babble:10") == NoiseSpec("babble", 10.0)
    assert NoiseSpec.parse("pink") == NoiseSpec("pink", 20.0)
    assert NoiseSpec.parse("white:-10").snr_db == -10.0


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("white:70", "noise SNR: expected an SNR in dB ≥ -10 and ≤ 60, got 70"),
        ("white:-11", "got -11"),
        ("white:nan", "got nan"),
        ("purple:10", "unknown noise 'purple'"),
    ],
)
def test_bad_noise(text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        NoiseSpec.parse(text)


def test_a_noise_file_that_is_not_audio(tmp_path) -> None:
    bad = tmp_path / "cafe.wav"
    bad.write_text("not audio")
    with pytest.raises(ConfigError) as caught:
        NoiseSpec.parse(f"{bad}:15")
    assert str(caught.value) == f"noise file {bad}: not an audio file (FFmpeg cannot decode it)"


def test_echo_inserts_voice() -> None:
    assert EchoSpec.parse("delay_ms=250,erl_db=12,speaker") == EchoSpec(250.0, 12.0, True)
    assert EchoSpec.parse("on") == EchoSpec()
    assert InsertSpec.parse("mm-hmm@800") == InsertSpec("mm-hmm", 800.0, 1)
    assert InsertSpec.parse("cough@1500,turn=2,gain_db=-6") == InsertSpec("cough", 1500.0, 2, -6.0)
    assert CallerVoice.parse("voice=en-us+f3,rate=180,volume_db=-20").to_json() == {
        "voice": "en-us+f3",
        "rate": 180.0,
        "volume_db": -20.0,
    }
    with pytest.raises(ConfigError, match=r"unknown setting 'delay'; use delay_ms, erl_db, speaker$"):
        EchoSpec.parse("delay=100")
    with pytest.raises(ConfigError, match="unknown backchannel 'sneeze'"):
        InsertSpec.parse("sneeze@100")
    with pytest.raises(ConfigError, match="clip_db: expected a number ≥ 0 and ≤ 40, got 99"):
        CallerVoice.parse("clip_db=99")


def test_scenario_mapping_and_unknown_condition() -> None:
    c = Conditions.from_mapping(
        {
            "noise": {"kind": "babble", "snr_db": 10},
            "echo": {"delay_ms": 150, "erl_db": 20},
            "backchannels": ["mm-hmm@700", {"what": "cough", "at_ms": 1500, "turn": 2}],
            "pause_ms": 600,
            "seed": 7,
        }
    )
    assert c.noise == NoiseSpec("babble", 10.0)
    assert c.echo == EchoSpec(150.0, 20.0)
    assert c.inserts == (InsertSpec("mm-hmm", 700.0), InsertSpec("cough", 1500.0, 2))
    assert (c.pause_ms, c.seed) == (600.0, 7)
    with pytest.raises(ConfigError, match="unknown condition 'reverb'; use noise, echo"):
        Conditions.from_mapping({"reverb": 1})
    assert Conditions().empty and not c.empty
