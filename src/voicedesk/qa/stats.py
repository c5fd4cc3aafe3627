"""Statistics for small samples of runs, exact where it matters (no SciPy needed).

- ``wilson``: the Wilson score interval of a pass rate (good at 0/n and n/n, unlike p ± 2σ);
- ``newcombe``: the interval of a difference of two pass rates from their Wilson intervals
  (Newcombe 1998, method 10);
- ``fisher_exact``: the two-sided p-value of a 2×2 table (pass/fail × A/B), exact from the
  hypergeometric distribution (as ``scipy.stats.fisher_exact``: tables as likely or less);
- ``mann_whitney``: the two-sided p-value that two latency samples come from one
  distribution; exact (the U distribution counted) without ties and for small samples, else the
  normal approximation with tie and continuity corrections (as SciPy's ``method="auto"``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

Z95 = 1.959963984540054
EXACT_MAX_PRODUCT = 10_000  # n1·n2 up to which Mann-Whitney's U is counted exactly


def wilson(passed: int, total: int, z: float = Z95) -> tuple[float, float]:
    if total <= 0:
        return 0.0, 1.0
    p = passed / total
    denominator = 1 + z * z / total
    center = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, center - half), min(1.0, center + half)


def newcombe(passed_a: int, total_a: int, passed_b: int, total_b: int, z: float = Z95) -> tuple[float, float]:
    """The 95 % interval of rate_b − rate_a."""
    pa, pb = passed_a / total_a, passed_b / total_b
    la, ua = wilson(passed_a, total_a, z)
    lb, ub = wilson(passed_b, total_b, z)
    diff = pb - pa
    return diff - math.sqrt((pb - lb) ** 2 + (ua - pa) ** 2), diff + math.sqrt((ub - pb) ** 2 + (pa - la) ** 2)


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p of the table [[a, b], [c, d]] (rows: A, B; columns: passed, failed)."""
    row1, col1, n = a + b, a + c, a + b + c + d
    if n == 0:
        return 1.0
    lo, hi = max(0, col1 - (n - row1)), min(row1, col1)
    total = math.comb(n, col1)

    def probability(x: int) -> Fraction:
        return Fraction(math.comb(row1, x) * math.comb(n - row1, col1 - x), total)

    observed = probability(a)
    # "as likely or less", with the relative tolerance SciPy uses for ties in probability
    limit = observed * (1 + Fraction(1, 10**7))
    p = sum((q for q in (probability(x) for x in range(lo, hi + 1)) if q <= limit), Fraction(0))
    return min(1.0, float(p))


def _ranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    ties: list[int] = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        if j > i:
            ties.append(j - i + 1)
        i = j + 1
    return ranks, ties


def _u_counts(m: int, n: int) -> list[int]:
    """How many orderings give U = 0..m·n: the coefficients of the Gaussian binomial [m+n, m]_q."""
    size = m * n + 1
    c = [0] * size
    c[0] = 1
    for i in range(1, m + 1):
        step = n + i
        for k in range(size - 1, step - 1, -1):  # × (1 − q^(n+i))
            c[k] -= c[k - step]
        for k in range(i, size):  # ÷ (1 − q^i)
            c[k] += c[k - i]
    return c


@dataclass(frozen=True)
class MannWhitney:
    u: float  # U of the first sample
    p: float
    exact: bool


def mann_whitney(x: Sequence[float], y: Sequence[float]) -> MannWhitney | None:
    """Two-sided test of x against y; None when either sample is empty."""
    n1, n2 = len(x), len(y)
    if n1 == 0 or n2 == 0:
        return None
    ranks, ties = _ranks([*x, *y])
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    if not ties and n1 * n2 <= EXACT_MAX_PRODUCT:
        counts = _u_counts(n1, n2)
        total = math.comb(n1 + n2, n1)
        u_small = min(u1, n1 * n2 - u1)
        tail = sum(counts[: int(u_small) + 1])
        return MannWhitney(u1, min(1.0, 2 * tail / total), True)
    n = n1 + n2
    mean = n1 * n2 / 2
    tie_term = sum(t**3 - t for t in ties) / (n * (n - 1)) if n > 1 else 0.0
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - tie_term))
    if sigma == 0:
        return MannWhitney(u1, 1.0, False)
    z = max(0.0, abs(u1 - mean) - 0.5) / sigma
    return MannWhitney(u1, min(1.0, math.erfc(z / math.sqrt(2))), False)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def distribution(values: Sequence[float]) -> dict[str, float | int | None]:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 1)

    return {
        "n": len(values),
        "p50": r(percentile(values, 50)),
        "p90": r(percentile(values, 90)),
        "max": r(max(values)) if values else None,
    }
