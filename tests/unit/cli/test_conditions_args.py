"""Bad caller conditions stop ``voicedesk call`` before dialing: one line, exit 2."""

from __future__ import annotations

import pytest

from voicedesk.cli import main


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        (["--noise", "purple:10"], "--noise: unknown noise 'purple': use white, pink, babble or an audio file"),
        (["--noise", "babble:61"], "--noise: noise SNR: expected an SNR in dB ≥ -10 and ≤ 60, got 61"),
        (["--noise", "white:-10.5"], "--noise: noise SNR: expected an SNR in dB ≥ -10 and ≤ 60, got -10.5"),
        (["--echo", "delay_ms=x"], "--echo: echo 'delay_ms=x': 'x' is not a number"),
        (["--backchannel", "sneeze@100"], "--backchannel: unknown backchannel 'sneeze'"),
        (["--pause-ms", "nan"], "--pause-ms: expected a number ≥ 0 and ≤ 10000, got nan"),
        (["--caller-voice", "rate=20"], "--caller-voice: caller voice rate: expected a number ≥ 80 and ≤ 450, got 20"),
    ],
)
def test_bad_conditions_are_one_line_and_exit_2(capsys, option: list[str], expected: str) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["call", "embedded:echo", *option])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"voicedesk call: {expected}") and err.count("\n") == 1, err


def test_a_noise_file_that_is_not_audio(capsys, tmp_path) -> None:
    bad = tmp_path / "room.wav"
    bad.write_bytes(b"RIFF not really")
    with pytest.raises(SystemExit) as caught:
        main(["call", "embedded:echo", "--noise", f"{bad}:10"])
    assert caught.value.code == 2
    assert (
        capsys.readouterr().err
        == f"voicedesk call: --noise: noise file {bad}: not an audio file (FFmpeg cannot decode it)\n"
    )


def test_a_pause_needs_words_to_split(capsys) -> None:
    assert main(["call", "embedded:echo", "--source", "tone:440", "--pause-ms", "300"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        "voicedesk: a pause or a caller voice changes what the caller says: use it with a say: or wav: source, not tone"
    )


def test_the_turn_taking_probe_refuses_bad_steps_before_calling(capsys) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["probe", "turn-taking", "embedded:voice", "--step-ms", "0"])
    assert caught.value.code == 2
    assert (
        capsys.readouterr().err == "voicedesk probe turn-taking: --step-ms: expected a number > 0 and ≤ 5000, got 0\n"
    )
    assert main(["probe", "turn-taking", "embedded:voice", "--start-ms", "900", "--max-ms", "300"]) == 2
    assert capsys.readouterr().err == "voicedesk probe: --max-ms (300) is shorter than --start-ms (900)\n"


def test_an_unknown_caller_voice_is_one_line_not_the_end_of_the_process(capsys) -> None:
    # the espeakng-loader build ends the process on a voice it lacks; VoiceDesk asks first
    code = main(["call", "embedded:echo", "--source", "say:hello there", "--caller-voice", "voice=zz-nope"])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("voicedesk: ") and "espeak-ng has no voice 'zz-nope'" in err and "\n" not in err, err
