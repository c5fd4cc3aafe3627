"""Two sets of repeated runs side by side: did B get worse than A, beyond what chance explains?

Per scenario (matched by name) and per metric:

- pass rate (the scenario's, and each expectation's): A's and B's, the change, its 95 %
  Newcombe interval and Fisher's exact two-sided p-value (exact at any sample size);
- latencies (voice-to-voice, the caller's response time, set-up, first audio): p50 and p90 of
  each side, the change of the median and the Mann-Whitney U two-sided p-value.

A regression is a change for the worse that is both larger than the threshold and
significant (p < alpha): a pass rate down by more than ``max_drop`` (absolute), or a median
latency up by more than ``max_slower`` (relative). CI reads the exit status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from voicedesk.qa.evals import LATENCIES, by_scenario, expectation_key, pooled_latencies
from voicedesk.qa.stats import distribution, fisher_exact, mann_whitney, newcombe


@dataclass(frozen=True)
class Thresholds:
    alpha: float = 0.05
    max_drop: float = 0.1  # pass rate, absolute (0.1 = ten points)
    max_slower: float = 0.2  # median latency, relative (0.2 = 20 % slower)


@dataclass(frozen=True)
class Row:
    scenario: str
    metric: str
    a: str
    b: str
    change: str
    p: float | None
    regression: bool
    kind: str  # "pass rate" or "latency"
    judged: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "metric": self.metric,
            "kind": self.kind,
            "judged": self.judged,
            "a": self.a,
            "b": self.b,
            "change": self.change,
            "p": None if self.p is None else round(self.p, 4),
            "regression": self.regression,
        }


def _rate_row(
    scenario: str, metric: str, pa: int, na: int, pb: int, nb: int, t: Thresholds, judged: bool = False
) -> Row:
    p = fisher_exact(pa, na - pa, pb, nb - pb)
    low, high = newcombe(pa, na, pb, nb)
    diff = pb / nb - pa / na
    return Row(
        scenario,
        metric,
        f"{pa}/{na} ({pa / na * 100:.0f} %)",
        f"{pb}/{nb} ({pb / nb * 100:.0f} %)",
        f"{diff * 100:+.0f} points (95 % {low * 100:+.0f} to {high * 100:+.0f})",
        p,
        diff < -t.max_drop and p < t.alpha,
        "pass rate",
        judged,
    )


def compare_runs(runs_a: list[dict[str, Any]], runs_b: list[dict[str, Any]], t: Thresholds) -> list[Row]:
    rows: list[Row] = []
    a_by, b_by = by_scenario(runs_a), by_scenario(runs_b)
    for name in [n for n in a_by if n in b_by]:
        ra, rb = a_by[name], b_by[name]
        rows.append(
            _rate_row(
                name,
                "scenario passed",
                sum(bool(r.get("passed")) for r in ra),
                len(ra),
                sum(bool(r.get("passed")) for r in rb),
                len(rb),
                t,
            )
        )
        checks_a = _checks(ra)
        checks_b = _checks(rb)
        for key in [k for k in checks_a if k in checks_b]:
            (pa, na, judged), (pb, nb, _) = checks_a[key], checks_b[key]
            rows.append(_rate_row(name, key, pa, na, pb, nb, t, judged))
        lat_a, lat_b = pooled_latencies(ra), pooled_latencies(rb)
        for metric in LATENCIES:
            xa, xb = lat_a[metric], lat_b[metric]
            if not xa or not xb:
                continue
            da, db = distribution(xa), distribution(xb)
            test = mann_whitney(xa, xb)
            p = test.p if test is not None else None
            med_a, med_b = da["p50"], db["p50"]
            assert med_a is not None and med_b is not None
            relative = (med_b - med_a) / abs(med_a) if med_a else 0.0
            slower = relative > t.max_slower and med_b > med_a
            rows.append(
                Row(
                    name,
                    metric,
                    f"p50 {med_a:.0f}, p90 {da['p90']:.0f} ms (n={da['n']})",
                    f"p50 {med_b:.0f}, p90 {db['p90']:.0f} ms (n={db['n']})",
                    f"{med_b - med_a:+.0f} ms ({relative * 100:+.0f} %)",
                    p,
                    slower and p is not None and p < t.alpha,
                    "latency",
                )
            )
    return rows


def _checks(runs: list[dict[str, Any]]) -> dict[str, tuple[int, int, bool]]:
    out: dict[str, tuple[int, int, bool]] = {}
    for run in runs:
        for check in run.get("checks", []):
            key = expectation_key(check)
            passed, total, _ = out.get(key, (0, 0, False))
            out[key] = (passed + bool(check.get("passed")), total + 1, check.get("kind") == "judged")
    return out


def only_in(runs_a: list[dict[str, Any]], runs_b: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    a, b = by_scenario(runs_a), by_scenario(runs_b)
    return [n for n in a if n not in b], [n for n in b if n not in a]


def table_lines(rows: list[Row]) -> list[str]:
    out = []
    for row in rows:
        mark = "REGRESSION" if row.regression else "          "
        p = "p n/a" if row.p is None else f"p={row.p:.3g}"
        label = " [judged]" if row.judged else ""
        out.append(f"{mark} {row.scenario} · {row.metric}{label}: A {row.a} → B {row.b}; {row.change}; {p}")
    return out


def render_html(rows: list[Row], name_a: str, name_b: str, t: Thresholds) -> str:
    from voicedesk.qa.html import CSS, esc, table

    body = [
        [
            esc(r.scenario),
            esc(r.metric) + (" <b>[judged]</b>" if r.judged else ""),
            esc(r.a),
            esc(r.b),
            esc(r.change),
            esc("n/a" if r.p is None else f"{r.p:.3g}"),
            '<span class="fail">regression</span>' if r.regression else '<span class="pass">no</span>',
        ]
        for r in rows
    ]
    regressions = sum(r.regression for r in rows)
    return "\n".join(
        [
            "<!doctype html><html><head><meta charset='utf-8'><title>VoiceDesk compare</title>",
            f"<style>{CSS}</style></head><body>",
            f"<h1>A: {esc(name_a)} — B: {esc(name_b)}</h1>",
            f"<p>{regressions} regression(s). A regression: a pass rate down by more than "
            f"{t.max_drop * 100:g} points or a median latency up by more than {t.max_slower * 100:g} %, "
            f"with p &lt; {t.alpha:g} (pass rates: Fisher's exact test, interval by Newcombe's method; "
            "latencies: Mann-Whitney U). Judged rows are an LLM's opinion.</p>",
            table(body, ["scenario", "metric", "A", "B", "change", "p", "regression"]),
            "</body></html>",
        ]
    )
