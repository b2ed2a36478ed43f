"""Uplift of treated over holdout with 95% confidence intervals.

Conversion: the difference of two proportions with Newcombe's hybrid score interval (method
10 of Newcombe 1998, built from two Wilson intervals); it stays inside [-1, 1] and behaves
with few conversions, where the Wald interval does not. GMV per consumer: the difference of
two means with Welch's t interval (unequal variances; Welch-Satterthwaite degrees of freedom);
GMV is skewed but the means of a few hundred consumers are near normal, and the demo test
checks the coverage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z95 = 1.959963984540054
NEWCOMBE = "Newcombe hybrid score (Wilson) interval for a difference of proportions"
WELCH = "Welch t interval for a difference of means (unequal variances)"


@dataclass(frozen=True)
class Interval:
    estimate: float | None
    low: float | None
    high: float | None


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of one proportion."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def newcombe_difference(x1: int, n1: int, x2: int, n2: int) -> Interval:
    """p1 - p2 with Newcombe's hybrid score 95% interval (None when an arm is empty)."""
    if n1 == 0 or n2 == 0:
        return Interval(None, None, None)
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1)
    l2, u2 = wilson(x2, n2)
    difference = p1 - p2
    low = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return Interval(difference, low, high)


def welch_difference(treated: Sequence[float], holdout: Sequence[float]) -> Interval:
    """mean(treated) - mean(holdout) with Welch's 95% t interval (None below 2 per arm)."""
    from scipy import stats

    n1, n2 = len(treated), len(holdout)
    if n1 < 2 or n2 < 2:
        return Interval(None, None, None)
    m1, m2 = sum(treated) / n1, sum(holdout) / n2
    v1 = sum((x - m1) ** 2 for x in treated) / (n1 - 1)
    v2 = sum((x - m2) ** 2 for x in holdout) / (n2 - 1)
    se2 = v1 / n1 + v2 / n2
    difference = m1 - m2
    if se2 == 0:
        return Interval(difference, difference, difference)
    dof = se2**2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    half = float(stats.t.ppf(0.975, dof)) * math.sqrt(se2)
    return Interval(difference, difference - half, difference + half)
