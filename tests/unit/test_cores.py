"""Which CPU the engine's media gets (voicedesk/cores.py); the pinning itself is checked on a real
engine in tests/integration/test_engine_process.py and on the app in tests/gui/test_smoke.py."""

from __future__ import annotations

import logging

import pytest

from voicedesk.cores import choose_media_cpu


@pytest.mark.parametrize(
    ("setting", "allowed", "chosen"),
    [
        (None, {0, 1}, 1),  # the default: the last CPU this process may use
        ("auto", {0, 2, 5}, 5),
        (" AUTO ", {0, 1}, 1),
        ("0", {0, 1}, 0),
        ("off", {0, 1, 2, 3}, None),
        (None, {3}, None),  # one CPU: nothing to keep apart
        ("0", {0}, None),
    ],
)
def test_the_media_cpu_chosen_from_the_setting_and_the_cpus_allowed(
    setting: str | None, allowed: set[int], chosen: int | None
) -> None:
    assert choose_media_cpu(setting, allowed) == chosen


@pytest.mark.parametrize("setting", ["7", "fast"])
def test_a_setting_that_names_no_usable_cpu_is_one_warning_and_the_default(setting: str, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="voicedesk.cores"):
        assert choose_media_cpu(setting, {0, 1}) == 1
    assert [r.getMessage() for r in caplog.records] == [
        f"VOICEDESK_MEDIA_CPU={setting}: expected off, auto or one of the CPUs this process may use (0,1); using CPU 1"
    ]
