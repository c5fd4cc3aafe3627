"""voicedesk/limits.py: one check for every number a user gives, and every option uses it."""

from __future__ import annotations

import argparse

import pytest

from voicedesk.errors import ConfigError
from voicedesk.limits import checked, count, number, port, problem, seconds


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (float("nan"), {"minimum": 0}, "expected a number ≥ 0, got nan"),
        (float("inf"), {"minimum": 0}, "expected a number ≥ 0, got inf"),
        (float("-inf"), {}, "expected a finite number, got -inf"),
        (-1.0, {"minimum": 0}, "expected a number ≥ 0, got -1"),
        (0.0, {"above": 0}, "expected a number > 0, got 0"),
        (2000.0, {"minimum": 0, "maximum": 1000}, "expected a number ≥ 0 and ≤ 1000, got 2000"),
        (10**400, {"minimum": 0, "maximum": 5, "kind": "a whole number"}, "≤ 5, got 1000"),
        (0.0, {"minimum": 0}, None),
        (1000.0, {"minimum": 0, "maximum": 1000}, None),
    ],
)
def test_problem_refuses_nan_infinities_and_out_of_range(value, kwargs, expected):
    why = problem(value, **kwargs)
    if expected is None:
        assert why is None
    else:
        assert why is not None and expected in why


def test_checked_names_what_was_checked():
    assert checked(5.0, "--duration", minimum=0) == 5.0
    with pytest.raises(ConfigError, match=r"^--duration: expected seconds ≥ 0, got nan$"):
        checked(float("nan"), "--duration", minimum=0, kind="seconds")


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (seconds(), "x", "'x' is not a number"),
        (seconds(), "nan", "expected seconds ≥ 0 and ≤ 604800, got nan"),
        (seconds(), "inf", "expected seconds ≥ 0 and ≤ 604800, got inf"),
        (seconds(above=0), "0", "expected seconds > 0 and ≤ 604800, got 0"),
        (number(minimum=0, maximum=1000), "-0.5", "expected a number ≥ 0 and ≤ 1000, got -0.5"),
        (count(minimum=1), "0", "expected a whole number ≥ 1, got 0"),
        (count(), "1.5", "'1.5' is not a whole number"),
        (port, "99999", "expected a port ≥ 0 and ≤ 65535, got 99999"),
        (port, "-1", "expected a port ≥ 0 and ≤ 65535, got -1"),
    ],
)
def test_argparse_types_refuse_with_one_reason(parse, text, message):
    with pytest.raises(argparse.ArgumentTypeError) as caught:
        parse(text)
    assert str(caught.value) == message


def test_argparse_types_pass_good_values():
    assert seconds()("2.5") == 2.5 and seconds(above=0)("1e-3") == 0.001
    assert count(minimum=1)("3") == 3 and port("0") == 0 and port("65535") == 65535


def _actions(parser: argparse.ArgumentParser, prog: str = "voicedesk"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _actions(sub, f"{prog} {name}")
        else:
            yield prog, action


def test_every_numeric_option_goes_through_limits():
    """A bare type=float or type=int takes nan and inf: every number is checked here instead."""
    from voicedesk.cli import build_parser

    bare = [
        f"{prog} {'/'.join(action.option_strings) or action.dest}"
        for prog, action in _actions(build_parser())
        if action.type in (float, int)
    ]
    assert bare == []
