import numpy as np
import pytest

from voicedesk.errors import ConfigError
from voicedesk.media.dtmf import DTMF_FREQUENCIES, detect_dtmf, dtmf_samples, tone_pair, validate_digits
from voicedesk.media.pcm import SAMPLE_RATE


def test_q23_pairs() -> None:
    assert DTMF_FREQUENCIES["1"] == (697, 1209)
    assert DTMF_FREQUENCIES["#"] == (941, 1477)
    assert DTMF_FREQUENCIES["D"] == (941, 1633)
    assert len(DTMF_FREQUENCIES) == 16


def test_tone_lengths_and_gaps() -> None:
    audio = dtmf_samples("12", tone_ms=90, gap_ms=70)
    assert audio.size == 2 * (90 + 70) * SAMPLE_RATE // 1000
    loud = np.abs(audio) > 0.01
    assert not loud[int(0.095 * SAMPLE_RATE) : int(0.155 * SAMPLE_RATE)].any()  # the gap is silent
    assert np.max(np.abs(audio)) <= 0.61


def test_digits_come_back_out_even_with_noise() -> None:
    digits = "1234567890*#ABCD"
    audio = dtmf_samples(digits)
    noise = np.random.default_rng(3).normal(0, 0.03, audio.size)
    assert detect_dtmf(audio + noise) == digits


def test_a_single_tone_or_noise_is_not_a_digit() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    assert detect_dtmf(0.5 * np.sin(2 * np.pi * 697 * t)) == ""
    assert detect_dtmf(np.random.default_rng(1).normal(0, 0.2, SAMPLE_RATE)) == ""


def test_repeated_keys_need_the_gap() -> None:
    assert detect_dtmf(dtmf_samples("11,1")) == "111"


def test_a_dropout_inside_a_tone_is_not_a_second_press_and_a_pause_of_40_ms_is() -> None:
    """Q.24: a break of up to 10 ms is no pause, one of 40 ms is; we merge breaks up to 20 ms
    (a lost packet's worth: concealment, a browser's glitch) at every alignment to our windows."""
    star = tone_pair("*", 120.0)
    for dropout_ms in (10, 20):
        for at in range(2400, 2880, 48):
            cut = star.copy()
            cut[at : at + dropout_ms * 48] = 0.0
            assert detect_dtmf(np.concatenate((tone_pair("9"), np.zeros(3840), cut, np.zeros(960)))) == "9*", at
    pause = np.zeros(int(0.040 * SAMPLE_RATE))
    for lead in range(0, 480, 48):
        assert detect_dtmf(np.concatenate((np.zeros(lead), star, pause, star))) == "**", lead


def test_a_key_is_its_two_tones() -> None:
    spectrum = np.abs(np.fft.rfft(tone_pair("5", 1000)))  # 1 s: 1 Hz bins
    top_two = sorted(np.argsort(spectrum)[-2:])
    assert top_two == [770, 1336]


@pytest.mark.parametrize("bad", ["12x", "", "  "])
def test_bad_digits_are_named(bad: str) -> None:
    with pytest.raises(ConfigError, match="DTMF"):
        validate_digits(bad)
