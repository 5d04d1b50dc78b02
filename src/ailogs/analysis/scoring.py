"""Small statistics shared by the anomaly detector and the correlator.

Every score here is a signed, z-like number (a likelihood-ratio statistic turned
into standard deviations), so a 4 means roughly the same surprise whether it
comes from a count, a proportion or a latency quantile.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# A pseudo-count added to baselines so that "zero before, three now" is
# surprising but not infinitely so.
PRIOR_COUNT = 1.0


def poisson_score(observed: float, expected: float) -> float:
    """Signed deviance score of a count against its expected Poisson mean."""
    expected = max(expected, 1e-9)
    if observed <= 0:
        deviance = 2.0 * expected
    else:
        deviance = 2.0 * (observed * math.log(observed / expected) - (observed - expected))
    score = math.sqrt(max(deviance, 0.0))
    return score if observed >= expected else -score


def binomial_score(successes: float, trials: float, expected_rate: float) -> float:
    """Signed likelihood-ratio score of `successes` out of `trials` against a rate."""
    if trials <= 0:
        return 0.0
    p0 = min(max(expected_rate, 1e-9), 1 - 1e-9)
    p = successes / trials
    deviance = 0.0
    if successes > 0:
        deviance += successes * math.log(p / p0)
    if successes < trials:
        deviance += (trials - successes) * math.log((1 - p) / (1 - p0))
    score = math.sqrt(max(2.0 * deviance, 0.0))
    return score if p >= p0 else -score


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile (nearest rank, 0 < q <= 1) of values; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return float(ordered[rank - 1])


def exceedance_score(current: Sequence[float], baseline_p95: float) -> float:
    """How surprising the share of current values above the baseline p95 is.

    Under no change about 5 % of values exceed the old p95; a binomial score on
    the exceedances is a latency-shift test that needs no distribution shape.
    """
    exceed = sum(1 for value in current if value > baseline_p95)
    return binomial_score(exceed, len(current), 0.05)


def rounded(value: float, digits: int = 3) -> float:
    """Round for display; keeps JSON answers short and deterministic."""
    return round(value, digits)
