"""A per-process GCRA limiter: the in-memory implementation and Redis fallback."""

from __future__ import annotations

import time
from collections.abc import Callable

from ailogs.ratelimit.base import LimiterBackend, RateDecision, RatePolicy, gcra_step

Clock = Callable[[], int]


class InMemoryRateLimiter:
    """GCRA with one TAT per key in a dict; exact within this process.

    Idle keys are swept once the table grows past `max_keys`: a key whose TAT is
    in the past carries no state, so dropping it changes no decision.
    """

    def __init__(
        self,
        policy: RatePolicy,
        *,
        clock: Clock = time.monotonic_ns,
        max_keys: int = 100_000,
    ) -> None:
        self._policy = policy
        self._clock = clock
        self._max_keys = max_keys
        self._tats: dict[str, int] = {}

    @property
    def policy(self) -> RatePolicy:
        """The policy every key is held to."""
        return self._policy

    async def acquire(self, key: str) -> RateDecision:
        """Count one request for `key` (no await inside: atomic on the event loop)."""
        return self.acquire_now(key)

    def acquire_now(self, key: str) -> RateDecision:
        """Synchronous form of `acquire`."""
        now = self._clock()
        new_tat, retry_ns, remaining = gcra_step(self._tats.get(key), now, self._policy)
        if new_tat is None:
            return RateDecision(False, retry_ns / 1e9, 0, LimiterBackend.LOCAL)
        self._tats[key] = new_tat
        if len(self._tats) > self._max_keys:
            self._sweep(now)
        return RateDecision(True, 0.0, remaining, LimiterBackend.LOCAL)

    def _sweep(self, now: int) -> None:
        for key in [key for key, tat in self._tats.items() if tat <= now]:
            del self._tats[key]
