"""The per-process GCRA limiter, on a clock the test drives."""

from __future__ import annotations

import pytest

from ailogs.ratelimit import InMemoryRateLimiter, LimiterBackend, RatePolicy

SECOND = 1_000_000_000


class FakeClock:
    """Nanoseconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 10 * SECOND

    def __call__(self) -> int:
        return self.now


async def test_a_fresh_key_gets_its_burst_then_is_refused() -> None:
    clock = FakeClock()
    limiter = InMemoryRateLimiter(RatePolicy(rate_per_s=2, burst=3), clock=clock)

    decisions = [await limiter.acquire("key:a") for _ in range(4)]

    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    assert decisions[3].retry_after_s == pytest.approx(0.5)
    assert decisions[3].retry_after_header == "1"
    assert decisions[0].backend is LimiterBackend.LOCAL


async def test_the_refused_caller_may_retry_after_the_stated_delay() -> None:
    clock = FakeClock()
    limiter = InMemoryRateLimiter(RatePolicy(rate_per_s=4, burst=1), clock=clock)
    assert (await limiter.acquire("k")).allowed
    refused = await limiter.acquire("k")
    assert not refused.allowed

    clock.now += int(refused.retry_after_s * SECOND) - 1
    assert not (await limiter.acquire("k")).allowed
    clock.now += 1
    assert (await limiter.acquire("k")).allowed


async def test_keys_do_not_share_a_budget() -> None:
    limiter = InMemoryRateLimiter(RatePolicy(rate_per_s=1, burst=1), clock=FakeClock())
    assert (await limiter.acquire("a")).allowed
    assert (await limiter.acquire("b")).allowed
    assert not (await limiter.acquire("a")).allowed


async def test_allowed_count_over_time_is_burst_plus_rate_times_time() -> None:
    clock = FakeClock()
    policy = RatePolicy(rate_per_s=50, burst=20)
    limiter = InMemoryRateLimiter(policy, clock=clock)
    allowed = 0
    for _ in range(10_001):  # one attempt per millisecond, 0 s to 10 s inclusive
        allowed += (await limiter.acquire("k")).allowed
        clock.now += SECOND // 1000

    assert allowed == policy.burst + 50 * 10


async def test_idle_keys_are_swept_when_the_table_is_full() -> None:
    clock = FakeClock()
    limiter = InMemoryRateLimiter(RatePolicy(rate_per_s=1, burst=1), clock=clock, max_keys=10)
    for index in range(10):
        await limiter.acquire(f"old-{index}")
    clock.now += 5 * SECOND
    await limiter.acquire("new")

    assert not (await limiter.acquire("new")).allowed
    assert (await limiter.acquire("old-0")).allowed


def test_a_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="rate_per_s"):
        RatePolicy(rate_per_s=0, burst=1)
    with pytest.raises(ValueError, match="burst"):
        RatePolicy(rate_per_s=1, burst=0)
