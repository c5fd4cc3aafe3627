"""Where the window's calls run: ``--engine`` over ``VOICEDESK_ENGINE`` over the default."""

from __future__ import annotations

import pytest

from voicedesk.engine import ENGINE_ENV, engine_mode
from voicedesk.errors import ConfigError


def test_the_engine_process_is_the_default_and_the_option_wins_over_the_environment(monkeypatch) -> None:
    monkeypatch.delenv(ENGINE_ENV, raising=False)
    assert engine_mode() == "process"
    monkeypatch.setenv(ENGINE_ENV, "InProcess ")
    assert engine_mode() == "inprocess"
    assert engine_mode("process") == "process"


def test_a_bad_choice_is_one_line_naming_both_ways_to_set_it(monkeypatch) -> None:
    monkeypatch.setenv(ENGINE_ENV, "thread")
    with pytest.raises(ConfigError) as refused:
        engine_mode()
    assert str(refused.value) == "engine must be process or inprocess, not 'thread' (VOICEDESK_ENGINE or --engine)"
