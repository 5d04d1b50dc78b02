"""The rate-limiter contract: a GCRA policy, the decision it returns, the protocol.

GCRA (the generic cell rate algorithm) keeps one number per caller, the
theoretical arrival time (TAT) of its next request. A request is allowed when
it would not push the TAT further than `burst` emission intervals past now.
From an idle start a caller gets `burst` requests at once, then one every
`1 / rate` seconds: over `t` seconds at most `burst + floor(rate * t)` pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

NS_PER_SECOND = 1_000_000_000


class LimiterBackend(StrEnum):
    """Which store made a decision."""

    REDIS = "redis"
    LOCAL = "local"


@dataclass(frozen=True, slots=True)
class RatePolicy:
    """A sustained rate (requests per second) and a burst (requests at once)."""

    rate_per_s: float
    burst: int

    def __post_init__(self) -> None:
        if self.rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        if self.burst < 1:
            raise ValueError("burst must be at least 1")

    @property
    def interval_ns(self) -> int:
        """Emission interval: the time one request costs, in nanoseconds."""
        return max(1, round(NS_PER_SECOND / self.rate_per_s))

    @property
    def tolerance_ns(self) -> int:
        """How far the TAT may run ahead of now: `burst` intervals."""
        return self.interval_ns * self.burst


@dataclass(frozen=True, slots=True)
class RateDecision:
    """Whether one request may proceed, and when to retry if not."""

    allowed: bool
    retry_after_s: float
    remaining: int
    backend: LimiterBackend

    @property
    def retry_after_header(self) -> str:
        """`Retry-After` value: whole seconds, rounded up, at least 1."""
        whole = int(self.retry_after_s)
        return str(max(1, whole + (1 if self.retry_after_s > whole else 0)))


def gcra_step(tat_ns: int | None, now_ns: int, policy: RatePolicy) -> tuple[int | None, int, int]:
    """One GCRA decision: (new TAT or None when denied, retry-after ns, remaining).

    The Redis Lua script performs the same arithmetic in microseconds.
    """
    interval = policy.interval_ns
    base = now_ns if tat_ns is None or tat_ns < now_ns else tat_ns
    new_tat = base + interval
    allow_at = new_tat - policy.tolerance_ns
    if allow_at > now_ns:
        return None, allow_at - now_ns, 0
    remaining = (now_ns + policy.tolerance_ns - new_tat) // interval
    return new_tat, 0, int(remaining)


class RateLimiter(Protocol):
    """Decides, per caller key, whether one more request fits the policy."""

    async def acquire(self, key: str) -> RateDecision:
        """Count one request for `key` and say whether it is allowed."""
        ...
