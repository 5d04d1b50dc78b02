"""Retry and circuit-breaker policy for Loki calls.

Retries cover only failures that a second try can fix: connection errors, 5xx
and 429 (honouring Retry-After), bounded in attempts and in total time. The
breaker fails fast for a cool-down after repeated failures so a dead Loki costs
callers microseconds, not a timeout each.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

import httpx
from tenacity import RetryCallState
from tenacity.wait import wait_exponential_jitter

from ailogs.loki.errors import retry_after_seconds

RETRYABLE_TRANSPORT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError)


class RetryableStatus(Exception):
    """A Loki answer worth retrying (5xx, 429); carries the response."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"Loki answered {response.status_code}")
        self.response = response


def is_retryable(exc: BaseException) -> bool:
    """True for the failures a retry may fix."""
    return isinstance(exc, (RetryableStatus, *RETRYABLE_TRANSPORT))


class RetryAfterWait:
    """Exponential backoff with jitter, replaced by Retry-After when Loki sends one."""

    def __init__(self, *, initial_s: float = 0.2, max_s: float = 5.0) -> None:
        self._backoff = wait_exponential_jitter(multiplier=initial_s, max=max_s, jitter=initial_s)
        self._max_s = max_s

    def __call__(self, state: RetryCallState) -> float:
        outcome = state.outcome
        if outcome is not None and outcome.failed:
            exc = outcome.exception()
            if isinstance(exc, RetryableStatus):
                retry_after = retry_after_seconds(exc.response)
                if retry_after is not None:
                    return min(retry_after, self._max_s)
        return float(self._backoff(state))


class BreakerState(StrEnum):
    """Circuit breaker states."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Consecutive-failure breaker with a cool-down and a single half-open probe."""

    def __init__(
        self,
        *,
        failure_threshold: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = failure_threshold
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        """The current state, taking the cool-down into account."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self._cooldown_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        """Whether a call may go to Loki now."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        """Loki answered: close the breaker."""
        self._failures = 0
        self._opened_at = None
        self._probe_in_flight = False

    def record_failure(self) -> None:
        """Loki failed: count it, and open (or re-open) the breaker at the threshold."""
        self._failures += 1
        self._probe_in_flight = False
        if self._opened_at is not None or self._failures >= self._threshold:
            self._opened_at = self._clock()

    def seconds_until_retry(self) -> float:
        """How long until a probe is allowed (0 when closed)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._cooldown_s - (self._clock() - self._opened_at))
