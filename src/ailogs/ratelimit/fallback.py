"""Redis first, the per-process limiter when Redis fails: never a hard outage."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis.exceptions import RedisError

from ailogs.ratelimit.base import RateDecision, RateLimiter
from ailogs.ratelimit.memory import InMemoryRateLimiter

logger = logging.getLogger(__name__)

# Errors that mean "the shared store is unreachable", not "the request is bad".
STORE_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)


class FallbackRateLimiter:
    """Asks the shared limiter; on a store error asks the local one for that call.

    After a failure the shared limiter is skipped for `retry_after_s` so a dead
    Redis costs one failed connection per interval, not one per request; after
    that the next call tries Redis again, so recovery needs no restart. While
    degraded each process enforces the policy on its own (N replicas admit up to
    N times the rate), which beats refusing everyone or admitting everyone.
    """

    def __init__(
        self,
        shared: RateLimiter,
        local: InMemoryRateLimiter,
        *,
        retry_after_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._shared = shared
        self._local = local
        self._retry_after_s = retry_after_s
        self._clock = clock
        self._skip_until = 0.0
        self._degraded = False

    @property
    def degraded(self) -> bool:
        """True while the last attempt on the shared store failed."""
        return self._degraded

    async def acquire(self, key: str) -> RateDecision:
        """Count one request: in the shared store when it answers, else locally."""
        if self._clock() >= self._skip_until:
            try:
                decision = await self._shared.acquire(key)
            except STORE_ERRORS as exc:
                if not self._degraded:
                    logger.warning("rate limiter store failed, using per-process limits: %r", exc)
                self._degraded = True
                self._skip_until = self._clock() + self._retry_after_s
            else:
                if self._degraded:
                    logger.info("rate limiter store is back")
                self._degraded = False
                return decision
        return await self._local.acquire(key)
