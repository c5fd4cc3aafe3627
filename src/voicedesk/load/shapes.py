"""Load shapes for voice calls (Locust ``LoadTestShape``): ramp, step, spike, soak.

Subclass one in a locustfile and set its numbers, or give ``voicedesk load --locust``
``--shape step:users=5,every=30,max=50`` (``shape_from_spec``). Each ends the run
by itself (``tick`` returns None) when its last phase is over.
"""

from __future__ import annotations

import math
import os
from typing import Any

from locust import LoadTestShape

from voicedesk.errors import ConfigError


class RampShape(LoadTestShape):
    """Up to ``users`` at ``rate`` users/s, held ``hold_s``."""

    users = 10
    rate = 1.0
    hold_s = 60.0

    def tick(self) -> tuple[int, float] | None:
        if self.get_run_time() >= self.users / self.rate + self.hold_s:
            return None
        return self.users, self.rate


class StepShape(LoadTestShape):
    """``users`` more every ``every_s`` seconds up to ``max_users``, the last step held ``every_s``:
    the shape to read a capacity off (``--slo``)."""

    users = 5
    every_s = 30.0
    max_users = 50
    rate = 10.0

    def tick(self) -> tuple[int, float] | None:
        steps = math.ceil(self.max_users / self.users)
        step = int(self.get_run_time() // self.every_s)
        if step >= steps:
            return None
        return min(self.max_users, self.users * (step + 1)), self.rate


class SpikeShape(LoadTestShape):
    """``users`` throughout, ``peak_users`` from ``at_s`` for ``spike_s``, over ``total_s``."""

    users = 5
    peak_users = 50
    at_s = 30.0
    spike_s = 20.0
    total_s = 90.0
    rate = 50.0

    def tick(self) -> tuple[int, float] | None:
        t = self.get_run_time()
        if t >= self.total_s:
            return None
        return (self.peak_users if self.at_s <= t < self.at_s + self.spike_s else self.users), self.rate


class SoakShape(LoadTestShape):
    """Up to ``users`` at ``rate``, held ``soak_s`` (hours: leaks, drift, slow degradation)."""

    users = 20
    rate = 2.0
    soak_s = 3600.0

    def tick(self) -> tuple[int, float] | None:
        if self.get_run_time() >= self.users / self.rate + self.soak_s:
            return None
        return self.users, self.rate


SHAPES: dict[str, type[LoadTestShape]] = {"ramp": RampShape, "step": StepShape, "spike": SpikeShape, "soak": SoakShape}
# the words of a --shape spec -> the attribute each sets
_KEYS = {
    "users": "users",
    "rate": "rate",
    "hold": "hold_s",
    "every": "every_s",
    "max": "max_users",
    "peak": "peak_users",
    "at": "at_s",
    "spike": "spike_s",
    "total": "total_s",
    "soak": "soak_s",
}
ENV = "VOICEDESK_LOCUST_SHAPE"


def shape_from_spec(spec: str) -> type[LoadTestShape]:
    """``step:users=5,every=30,max=50`` -> a StepShape subclass with those numbers."""
    kind, _, rest = spec.strip().partition(":")
    base = SHAPES.get(kind)
    if base is None:
        raise ConfigError(f"--shape: expected one of {', '.join(SHAPES)}, got {kind!r}")
    attrs: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, _, value = item.partition("=")
        attr = _KEYS.get(key.strip())
        if attr is None or not hasattr(base, attr):
            known = ", ".join(k for k, a in _KEYS.items() if hasattr(base, a))
            raise ConfigError(f"--shape {kind}: unknown setting {key.strip()!r}; expected {known}")
        try:
            number = float(value.rstrip("s"))
        except ValueError:
            raise ConfigError(f"--shape {kind}: {key.strip()} expects a number, got {value!r}") from None
        if not (math.isfinite(number) and number > 0):
            raise ConfigError(f"--shape {kind}: {key.strip()} expects a number > 0, got {value!r}")
        attrs[attr] = int(number) if isinstance(getattr(base, attr), int) else number
    return type(f"{base.__name__}FromSpec", (base,), attrs)


def shape_from_environment() -> type[LoadTestShape] | None:
    spec = os.environ.get(ENV)
    return shape_from_spec(spec) if spec else None
