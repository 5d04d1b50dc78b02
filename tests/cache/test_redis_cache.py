"""The Redis cache against a real server: round trips, compression, SCAN
invalidation, stale-if-error storage, and what happens when Redis dies."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

import ailogs.cache.redis as redis_cache_module
from ailogs.cache import CacheHealth, RedisQueryCache
from ailogs.cache.codec import Entry, decode
from ailogs.cache.keys import tenant_prefix
from tests.redis_support import RedisProcess, fast_failing_client


class WallClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_round_trip_fresh_then_stale(redis_client: Redis, key_prefix: str) -> None:
    clock = WallClock()
    cache = RedisQueryCache(redis_client, key_prefix=key_prefix, stale_grace_s=60, clock=clock)
    key = f"{tenant_prefix('acme')}abc"
    await cache.set(key, b'{"entries":[]}', ttl_s=10)

    fresh = await cache.get(key)
    clock.now += 11
    stale = await cache.get(key)

    assert fresh is not None
    assert fresh.payload == b'{"entries":[]}'
    assert not fresh.stale
    assert stale is not None
    assert stale.stale
    assert 69_000 < await redis_client.pttl(key_prefix + key) <= 70_000
    assert await cache.get(f"{tenant_prefix('acme')}missing") is None
    assert (cache.stats.hits, cache.stats.misses, cache.stats.stores) == (1, 2, 1)


async def test_large_answers_are_stored_compressed(redis_client: Redis, key_prefix: str) -> None:
    cache = RedisQueryCache(redis_client, key_prefix=key_prefix, compress_min_bytes=1024)
    payload = b'{"message":"upstream timed out after 30s","service":"api"}' * 2000
    await cache.set("q:00:big", payload, ttl_s=30)

    stored = await redis_client.strlen(key_prefix + "q:00:big")
    entry = await cache.get("q:00:big")

    assert stored < len(payload) / 10
    assert entry is not None
    assert entry.payload == payload
    assert cache.stats.bytes_uncompressed == len(payload)
    assert cache.stats.bytes_stored == stored


async def test_invalidate_a_tenant_with_scan(redis_client: Redis, key_prefix: str) -> None:
    cache = RedisQueryCache(redis_client, key_prefix=key_prefix, scan_count=10)
    acme, other = tenant_prefix("acme"), tenant_prefix("other")
    for index in range(35):
        await cache.set(f"{acme}{index:04x}", b"x", ttl_s=60)
    await cache.set(f"{acme}ff00", b"x", ttl_s=60)
    await cache.set(f"{other}0001", b"x", ttl_s=60)

    assert await cache.invalidate(tenant="acme", prefix="ff") == 1
    assert await cache.invalidate(tenant="acme") == 35
    assert await cache.get(f"{other}0001") is not None
    assert await cache.invalidate() == 1


async def test_a_dead_redis_is_bypassed_and_a_revived_one_is_used_again(
    private_redis: RedisProcess,
) -> None:
    client = fast_failing_client(private_redis.url)
    cache = RedisQueryCache(client, key_prefix="ailogs-test:", retry_after_s=0.0)
    try:
        await cache.set("q:00:k", b"v", ttl_s=60)
        assert await cache.health() is CacheHealth.UP

        private_redis.stop()
        assert await cache.get("q:00:k") is None
        await cache.set("q:00:k", b"v2", ttl_s=60)  # swallowed, never raised
        assert cache.down
        assert await cache.health() is CacheHealth.DOWN
        with pytest.raises(RedisError):
            await cache.invalidate(tenant="acme")

        private_redis.start()  # empty: the private server keeps nothing on disk
        await cache.set("q:00:k", b"v3", ttl_s=60)
        entry = await cache.get("q:00:k")
        assert entry is not None
        assert entry.payload == b"v3"
        assert not cache.down
        assert await cache.health() is CacheHealth.UP
        assert cache.stats.errors >= 2
    finally:
        await client.aclose()


async def test_after_a_failure_redis_is_skipped_for_the_backoff(
    private_redis: RedisProcess,
) -> None:
    client = fast_failing_client(private_redis.url)
    cache = RedisQueryCache(client, key_prefix="ailogs-test:", retry_after_s=60.0)
    try:
        private_redis.stop()
        assert await cache.get("q:00:k") is None
        errors = cache.stats.errors
        assert await cache.get("q:00:k") is None
        assert cache.stats.errors == errors
        assert cache.stats.bypassed == 1
        private_redis.start()
        assert await cache.ping()  # a health probe ends the backoff early
        assert not cache.down
    finally:
        await client.aclose()


class CountingDecode:
    """Wraps the cache's decoder to count the blobs it inflates."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        monkeypatch.setattr(redis_cache_module, "decode", self)

    def __call__(self, blob: bytes) -> Entry | None:
        self.calls += 1
        return decode(blob)


def big(word: str) -> bytes:
    return (b'{"message":"%s upstream timed out","service":"api"}' % word.encode()) * 500


async def test_repeated_hits_inflate_an_unchanged_entry_once(
    redis_client: Redis, key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = RedisQueryCache(redis_client, key_prefix=key_prefix, compress_min_bytes=1024)
    writer = RedisQueryCache(redis_client, key_prefix=key_prefix, compress_min_bytes=1024)
    decoding = CountingDecode(monkeypatch)
    await writer.set("q:00:a", big("first"), ttl_s=30)

    answers = [await reader.get("q:00:a") for _ in range(5)]

    assert decoding.calls == 1
    assert all(a is not None and a.payload == big("first") for a in answers)
    assert reader.stats.hits == 5


async def test_an_entry_replaced_or_deleted_elsewhere_is_never_answered_from_memory(
    redis_client: Redis, key_prefix: str
) -> None:
    reader = RedisQueryCache(redis_client, key_prefix=key_prefix, compress_min_bytes=1024)
    other_replica = RedisQueryCache(redis_client, key_prefix=key_prefix, compress_min_bytes=1024)
    await other_replica.set("q:00:a", big("first"), ttl_s=30)
    first = await reader.get("q:00:a")

    await other_replica.set("q:00:a", big("second"), ttl_s=30)
    second = await reader.get("q:00:a")
    await other_replica.invalidate(prefix="q:00:")
    gone = await reader.get("q:00:a")

    assert first is not None
    assert first.payload == big("first")
    assert second is not None
    assert second.payload == big("second")
    assert gone is None


async def test_the_inflated_entries_kept_are_bounded_in_bytes(
    redis_client: Redis, key_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = len(big("k0")) + 2000  # an entry and (generously) its compressed blob
    cache = RedisQueryCache(
        redis_client, key_prefix=key_prefix, compress_min_bytes=1024, decoded_memo_bytes=2 * one
    )
    for index in range(3):
        await cache.set(f"q:00:{index}", big(f"k{index}"), ttl_s=30)
    decoding = CountingDecode(monkeypatch)

    for index in (2, 1, 0):  # 0 was pushed out when 2 came in
        entry = await cache.get(f"q:00:{index}")
        assert entry is not None
        assert entry.payload == big(f"k{index}")

    assert decoding.calls == 1
