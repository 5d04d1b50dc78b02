"""Fixed-bound duration histograms: mergeable by addition, so percentiles survive rollups.

Bucket `i` counts durations `d` with `BOUNDS_MS[i-1] < d <= BOUNDS_MS[i]` (the
Prometheus `le` rule); the last bucket is open-ended. The bounds are part of the
schema: changing them needs a migration that rebuilds the rollups.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

BOUNDS_MS: tuple[float, ...] = (
    5,
    10,
    25,
    50,
    75,
    100,
    150,
    250,
    400,
    600,
    800,
    1_000,
    1_500,
    2_000,
    3_000,
    5_000,
    7_500,
    10_000,
    15_000,
    20_000,
    30_000,
    60_000,
    120_000,
)
BUCKETS = len(BOUNDS_MS) + 1


def bucket_index(duration_ms: float) -> int:
    """The bucket a duration falls into."""
    return bisect_left(BOUNDS_MS, duration_ms)


def empty() -> list[int]:
    """A histogram with every bucket at zero."""
    return [0] * BUCKETS


def merge(into: list[int], other: Sequence[int]) -> list[int]:
    """Add `other` into `into` bucket by bucket and return it."""
    for index, count in enumerate(other):
        into[index] += count
    return into


def percentile(counts: Sequence[int], quantile: float, max_ms: float | None = None) -> float | None:
    """Estimate a quantile (0..1) by linear interpolation inside the bucket that holds it.

    The open-ended last bucket, and any bucket above the largest duration seen,
    is capped at `max_ms` when given. None for an empty histogram.
    """
    total = sum(counts)
    if total == 0:
        return None
    rank = quantile * total
    cumulative = 0
    for index, count in enumerate(counts):
        if count == 0:
            continue
        if cumulative + count >= rank:
            lower = BOUNDS_MS[index - 1] if index > 0 else 0.0
            upper = BOUNDS_MS[index] if index < len(BOUNDS_MS) else (max_ms or lower)
            if max_ms is not None:
                upper = min(upper, max_ms)
                lower = min(lower, upper)
            fraction = (rank - cumulative) / count
            return round(lower + (upper - lower) * fraction, 3)
        cumulative += count
    return max_ms
