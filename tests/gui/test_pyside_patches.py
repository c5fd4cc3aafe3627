"""The fix to PySide6's import hook answers exactly what PySide6 would, from the file's bytes."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
import sys

import numpy.linalg
import PySide6.QtCore
import pytest

import voicedesk.gui.theme
import voicedesk.rtc.stats
from voicedesk.gui.pyside_patches import source_mentions_pyside


def pyside_answer(module) -> bool:
    """PySide6's own ``_mod_uses_pyside`` (shibokensupport/feature.py), as documented."""
    try:
        return "PySide6" in inspect.getsource(module)
    except (TypeError, OSError, SyntaxError):
        return False


@pytest.mark.parametrize(
    "module",
    [voicedesk.gui.theme, voicedesk.rtc.stats, json, numpy.linalg._umath_linalg, sys, PySide6.QtCore],
    ids=lambda m: m.__name__,
)
def test_the_same_answer_as_pyside(module):
    fallback_calls = []

    def original(m):
        fallback_calls.append(m)
        return pyside_answer(m)

    assert source_mentions_pyside(original)(module) is pyside_answer(module)
    # only what is not a readable .py file goes to PySide6's own (slow) answer
    assert bool(fallback_calls) is not str(getattr(module, "__file__", "")).endswith(".py")


CHECK_IN_A_FRESH_INTERPRETER = """
import json, sys
import PySide6
from voicedesk.gui import pyside_patches
applied = pyside_patches.apply()
import voicedesk.gui.main_window
feature = sys.modules["shibokensupport.feature"]
print(json.dumps({
    "applied": applied,
    "again": pyside_patches.apply(),
    "switches": {k: v for k, v in feature.pyside_feature_dict.items() if k.startswith("voicedesk")},
}))
"""


def hook_switches(patches: str) -> dict:
    env = {**os.environ, "VOICEDESK_PYSIDE_PATCHES": patches, "QT_QPA_PLATFORM": "offscreen"}
    command = [sys.executable, "-c", CHECK_IN_A_FRESH_INTERPRETER]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_hook_tells_qt_modules_apart_as_before():
    patched, stock = hook_switches("1"), hook_switches("0")
    assert (patched["applied"], patched["again"], stock["applied"]) == (True, True, False)
    # 0: the module uses PySide6 (feature switching applies to it); -1: it does not
    assert patched["switches"] == stock["switches"]
    assert {0, -1} <= set(patched["switches"].values())
    for name, switch in patched["switches"].items():
        assert switch == (0 if pyside_answer(importlib.import_module(name)) else -1), name
