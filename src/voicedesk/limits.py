"""Every number a user gives VoiceDesk, checked one way: finite, in range, in these words.

NaN compares false with everything, so ``duration < 0`` lets it through and a wait on
it never ends; an infinity runs for ever. Options and scenario values therefore go
through ``problem`` / ``checked`` here, never through a comparison of their own:

- the command line uses the argparse types (``seconds``, ``number``, ``count``,
  ``port``), so a bad value stops parsing with one line: ``--duration: expected
  seconds ≥ 0 and ≤ 604800, got nan``;
- code that takes numbers from elsewhere (scenario files, ``LoadPlan``) calls
  ``checked`` and gets a ``ConfigError`` with the same words.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from voicedesk.errors import ConfigError

DAY_S = 86_400.0
WEEK_S = 7 * DAY_S  # the longest call or soak we accept: longer is a typo, not a test
MAX_PORT = 65_535


def _range(minimum: float | None, above: float | None, maximum: float | None) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"≥ {minimum:g}")
    if above is not None:
        parts.append(f"> {above:g}")
    if maximum is not None:
        parts.append(f"≤ {maximum:g}")
    return " and ".join(parts)


def problem(
    value: float,
    *,
    minimum: float | None = None,
    above: float | None = None,
    maximum: float | None = None,
    kind: str = "a number",
) -> str | None:
    """What is wrong with ``value`` (``expected a number ≥ 0, got nan``), or None if nothing.

    ``minimum``/``maximum`` are inclusive, ``above`` exclusive. Infinities and NaN are
    always refused: no option means "for ever"."""
    bounds = _range(minimum, above, maximum)
    wanted = f"{kind} {bounds}" if bounds else f"a finite {kind.removeprefix('a ')}"
    finite = isinstance(value, int) or math.isfinite(value)  # an int may be too large for a float
    if (
        not finite
        or (minimum is not None and value < minimum)
        or (above is not None and value <= above)
        or (maximum is not None and value > maximum)
    ):
        return f"expected {wanted}, got {value if isinstance(value, int) else format(value, 'g')}"
    return None


def checked(
    value: float,
    what: str,
    *,
    minimum: float | None = None,
    above: float | None = None,
    maximum: float | None = None,
    kind: str = "a number",
) -> float:
    """``value`` if it passes ``problem``; else ``ConfigError("WHAT: expected …, got …")``."""
    why = problem(value, minimum=minimum, above=above, maximum=maximum, kind=kind)
    if why is not None:
        raise ConfigError(f"{what}: {why}")
    return value


def _parse_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def _parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def number(
    *,
    minimum: float | None = None,
    above: float | None = None,
    maximum: float | None = None,
    kind: str = "a number",
) -> Callable[[str], float]:
    """An argparse ``type=`` for a finite float in range."""

    def parse(text: str) -> float:
        value = _parse_float(text)
        why = problem(value, minimum=minimum, above=above, maximum=maximum, kind=kind)
        if why is not None:
            raise argparse.ArgumentTypeError(why)
        return value

    parse.__name__ = "number"  # argparse names the type in some of its messages
    return parse


def seconds(
    *, minimum: float | None = 0.0, above: float | None = None, maximum: float = WEEK_S
) -> Callable[[str], float]:
    """An argparse ``type=`` for a time in seconds: ≥ 0 (or > ``above``) and at most a week."""
    return number(minimum=None if above is not None else minimum, above=above, maximum=maximum, kind="seconds")


def count(*, minimum: int | None = 0, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse ``type=`` for a whole number in range (calls, workers, sessions)."""

    def parse(text: str) -> int:
        value = _parse_int(text)
        why = problem(value, minimum=minimum, maximum=maximum, kind="a whole number")
        if why is not None:
            raise argparse.ArgumentTypeError(why)
        return value

    parse.__name__ = "count"
    return parse


def port(text: str) -> int:
    """An argparse ``type=`` for a port to listen on: 0–65535 (0 picks a free one)."""
    value = _parse_int(text)
    why = problem(value, minimum=0, maximum=MAX_PORT, kind="a port")
    if why is not None:
        raise argparse.ArgumentTypeError(why)
    return value
