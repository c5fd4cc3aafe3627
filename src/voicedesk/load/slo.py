"""Where a latency target broke: ``--slo voice_to_voice_p90_ms=1500``.

Locust's statistics hold, per request name, a count per (rounded) response time since
the start. Every ``WINDOW_S`` the watch takes the difference from its last look (the
values of that window alone, from every worker), its percentile, and the number of
users running; the first window whose percentile is over the limit says at how many
concurrent callers the target broke it. It runs where the statistics are whole: on the
master, or in a lone Locust process.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from voicedesk.errors import ConfigError

if TYPE_CHECKING:
    import gevent

WINDOW_S = 5.0
MIN_SAMPLES = 3  # a window with fewer values says nothing about a percentile

# the figure an SLO names -> the Locust request it reads
METRICS = {
    "voice_to_voice": "turn/voice_to_voice_ms",
    "setup": "call/setup_ms",
    "first_audio": "call/first_audio_ms",
    "barge_in_stop": "turn/barge_in_stop_ms",
}
_SLO = re.compile(r"^(?P<metric>[a-z_]+)_p(?P<pct>\d{1,2})_ms=(?P<limit>[0-9.]+)$")


@dataclass(frozen=True)
class Slo:
    metric: str
    percentile: int
    limit_ms: float
    text: str

    @property
    def request(self) -> str:
        return METRICS[self.metric]


def parse_slo(text: str) -> Slo:
    match = _SLO.match(text.strip())
    if match is None or match["metric"] not in METRICS:
        raise ConfigError(
            f"--slo: expected METRIC_pNN_ms=LIMIT with METRIC one of {', '.join(METRICS)} "
            f"(e.g. voice_to_voice_p90_ms=1500), got {text!r}"
        )
    limit = float(match["limit"])
    pct = int(match["pct"])
    if not (math.isfinite(limit) and limit > 0 and 1 <= pct <= 99):
        raise ConfigError(f"--slo: expected a percentile 1–99 and a limit > 0 ms, got {text!r}")
    return Slo(match["metric"], pct, limit, text.strip())


def percentile(counts: Counter[float], pct: int) -> float | None:
    """Nearest-rank percentile of a histogram {value: count}."""
    total = sum(counts.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(pct / 100 * total))
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return float(value)
    return None


class SloWatch:
    def __init__(self, environment: Any, slos: list[Slo], window_s: float = WINDOW_S) -> None:
        self.environment = environment
        self.slos = slos
        self.window_s = window_s
        self.windows: dict[str, list[dict[str, Any]]] = {s.text: [] for s in slos}
        self._last: dict[str, Counter[float]] = {s.request: Counter() for s in slos}
        self._greenlet: gevent.Greenlet | None = None
        self._elapsed = 0.0
        self._users = 0

    def start(self) -> None:
        # gevent only here, where the watch runs (in Locust's process): the rest reads histograms
        import gevent

        if self.slos:
            self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
            self._greenlet = None
            self.look()  # the last partial window

    def _run(self) -> None:
        import gevent

        while True:
            gevent.sleep(self.window_s)
            self._elapsed += self.window_s
            self.look()

    def _histogram(self, request: str) -> Counter[float]:
        stats = self.environment.runner.stats if self.environment.runner is not None else None
        now: Counter[float] = Counter()
        if stats is None:
            return now
        for (name, _kind), entry in list(stats.entries.items()):
            if name == request:
                now.update(entry.response_times)
        return now

    def look(self) -> None:
        users = self.environment.runner.user_count if self.environment.runner is not None else 0
        if users == 0:  # the last look comes after the users stopped: the window was run by the ones before
            users = self._users
        self._users = users
        for request in self._last:
            now = self._histogram(request)
            window = now - self._last[request]
            self._last[request] = now
            for slo in self.slos:
                if slo.request != request:
                    continue
                n = sum(window.values())
                value = percentile(window, slo.percentile) if n >= MIN_SAMPLES else None
                self.windows[slo.text].append(
                    {"at_s": round(self._elapsed, 1), "users": users, "samples": n, "value_ms": value}
                )

    def report(self) -> list[dict[str, Any]]:
        out = []
        for slo in self.slos:
            windows = self.windows[slo.text]
            measured = [w for w in windows if w["value_ms"] is not None]
            broke = next((w for w in measured if w["value_ms"] > slo.limit_ms), None)
            name = f"{slo.metric} p{slo.percentile}"
            if broke is not None:
                verdict = (
                    f"SLO {slo.text}: broken at {broke['users']} concurrent callers "
                    f"({name} {broke['value_ms']:.0f} ms in the window ending at {broke['at_s']:g} s)"
                )
            elif measured:
                held = max(w["users"] for w in measured)
                verdict = f"SLO {slo.text}: held up to {held} concurrent callers (worst {name} " + (
                    f"{max(w['value_ms'] for w in measured):.0f} ms)"
                )
            else:
                verdict = f"SLO {slo.text}: not measured (no window had {MIN_SAMPLES} {slo.request} values)"
            out.append(
                {
                    "slo": slo.text,
                    "request": slo.request,
                    "broken_at_users": broke["users"] if broke is not None else None,
                    "verdict": verdict,
                    "windows": windows,
                }
            )
        return out
