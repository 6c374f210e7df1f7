"""Binomial confidence intervals for the evaluation's accuracies.

Why: a generation grid of the quick preset holds about 100 notes, so one note is one point and a
95 % interval spans about ±8 points around 60 %; an accuracy printed without its interval invites
reading noise as a result. The Wilson score interval stays inside [0, 1] and behaves at 0 % and
100 % (where the textbook normal interval collapses to a point).
"""

from __future__ import annotations

import math

#: The normal quantile of a two-sided 95 % interval.
Z_95 = 1.959963984540054


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """(low, high) of the Wilson score interval of ``successes`` out of ``trials``; (nan, nan)
    without trials."""
    if trials <= 0:
        return math.nan, math.nan
    if not 0 <= successes <= trials:
        raise ValueError(f"{successes} successes out of {trials} trials")
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)
