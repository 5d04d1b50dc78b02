"""GCRA in the real Redis, and the fallback when that Redis dies."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from ailogs.ratelimit import (
    FallbackRateLimiter,
    InMemoryRateLimiter,
    LimiterBackend,
    RatePolicy,
    RedisRateLimiter,
)
from tests.redis_support import RedisProcess, fast_failing_client


async def test_burst_then_refusal_with_retry_after(redis_client: Redis, key_prefix: str) -> None:
    limiter = RedisRateLimiter(
        redis_client, RatePolicy(rate_per_s=1, burst=3), key_prefix=key_prefix
    )

    decisions = [await limiter.acquire("key:1") for _ in range(4)]

    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    assert 0.9 < decisions[3].retry_after_s <= 1.0
    assert decisions[3].backend is LimiterBackend.REDIS


async def test_state_lives_under_the_prefix_and_expires(
    redis_client: Redis, key_prefix: str
) -> None:
    limiter = RedisRateLimiter(
        redis_client, RatePolicy(rate_per_s=10, burst=5), key_prefix=key_prefix
    )
    await limiter.acquire("key:1")

    ttl_ms = await redis_client.pttl(f"{key_prefix}rl:key:1")
    assert 0 < ttl_ms <= 102


async def test_replicas_share_one_budget(redis_client: Redis, key_prefix: str) -> None:
    policy = RatePolicy(rate_per_s=0.5, burst=2)
    first = RedisRateLimiter(redis_client, policy, key_prefix=key_prefix)
    second = RedisRateLimiter(redis_client, policy, key_prefix=key_prefix)

    assert (await first.acquire("key:1")).allowed
    assert (await second.acquire("key:1")).allowed
    assert not (await first.acquire("key:1")).allowed


async def test_concurrent_requests_never_exceed_the_burst(
    redis_client: Redis, key_prefix: str
) -> None:
    limiter = RedisRateLimiter(
        redis_client, RatePolicy(rate_per_s=0.01, burst=50), key_prefix=key_prefix
    )

    decisions = await asyncio.gather(*(limiter.acquire("hot") for _ in range(300)))

    assert sum(d.allowed for d in decisions) == 50


async def test_a_dead_redis_falls_back_and_a_revived_one_is_used_again(
    private_redis: RedisProcess,
) -> None:
    client = fast_failing_client(private_redis.url)
    policy = RatePolicy(rate_per_s=1, burst=2)
    limiter = FallbackRateLimiter(
        RedisRateLimiter(client, policy, key_prefix="ailogs-test:"),
        InMemoryRateLimiter(policy),
        retry_after_s=0.0,
    )
    try:
        assert (await limiter.acquire("k")).backend is LimiterBackend.REDIS

        private_redis.stop()
        during = await limiter.acquire("k")
        assert during.backend is LimiterBackend.LOCAL
        assert during.allowed
        assert limiter.degraded

        private_redis.start()
        after = await limiter.acquire("k")
        assert after.backend is LimiterBackend.REDIS
        assert not limiter.degraded
    finally:
        await client.aclose()


async def test_after_a_failure_redis_is_skipped_for_the_backoff(
    private_redis: RedisProcess,
) -> None:
    client = fast_failing_client(private_redis.url)
    policy = RatePolicy(rate_per_s=1, burst=5)
    shared = RedisRateLimiter(client, policy, key_prefix="ailogs-test:")
    limiter = FallbackRateLimiter(shared, InMemoryRateLimiter(policy), retry_after_s=60)
    try:
        private_redis.stop()
        assert (await limiter.acquire("k")).backend is LimiterBackend.LOCAL
        private_redis.start()
        assert (await limiter.acquire("k")).backend is LimiterBackend.LOCAL
        with pytest.raises(RedisError):  # the store itself is not masked
            await RedisRateLimiter(
                fast_failing_client("redis://127.0.0.1:1/0"), policy, key_prefix="x:"
            ).acquire("k")
    finally:
        await client.aclose()
