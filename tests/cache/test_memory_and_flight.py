"""The in-process cache and single-flight."""

from __future__ import annotations

import asyncio

import pytest

from ailogs.cache import InMemoryQueryCache, SingleFlight
from ailogs.cache.codec import decode, encode
from ailogs.cache.keys import tenant_prefix


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_fresh_then_stale_then_gone() -> None:
    clock = Clock()
    cache = InMemoryQueryCache(stale_grace_s=60, clock=clock)
    await cache.set("q:a:1", b"answer", ttl_s=10)

    fresh = await cache.get("q:a:1")
    clock.now += 11
    stale = await cache.get("q:a:1")
    clock.now += 60
    gone = await cache.get("q:a:1")

    assert fresh is not None
    assert not fresh.stale
    assert stale is not None
    assert stale.stale
    assert gone is None
    assert (cache.stats.hits, cache.stats.misses) == (1, 2)


async def test_invalidate_by_tenant_and_prefix() -> None:
    cache = InMemoryQueryCache()
    acme, other = tenant_prefix("acme"), tenant_prefix("other")
    for name in (f"{acme}aa1", f"{acme}bb2", f"{other}aa3"):
        await cache.set(name, b"x", ttl_s=10)

    assert await cache.invalidate(tenant="acme", prefix="aa") == 1
    assert await cache.invalidate(tenant="acme") == 1
    assert await cache.get(f"{other}aa3") is not None
    assert await cache.invalidate() == 1
    with pytest.raises(ValueError, match="prefix"):
        await cache.invalidate(prefix="*")


async def test_the_in_process_cache_is_bounded_in_bytes() -> None:
    cache = InMemoryQueryCache(max_entries=100, max_bytes=1000)
    for n in range(5):
        await cache.set(f"q:a:{n}", bytes(300), ttl_s=10)  # 0 and 1 are evicted, oldest first
    await cache.set("q:a:3", bytes(100), ttl_s=10)  # replacing an entry frees its bytes
    await cache.set("q:a:5", bytes(300), ttl_s=10)  # fits: 2, 3, 4 and 5 make 1000 bytes
    await cache.set("q:a:huge", bytes(1001), ttl_s=10)  # larger than the budget: not kept

    kept = [n for n in range(6) if await cache.get(f"q:a:{n}") is not None]
    assert kept == [2, 3, 4, 5]
    assert cache.size_bytes == 1000
    assert await cache.get("q:a:huge") is None
    await cache.invalidate()
    assert cache.size_bytes == 0


async def test_fifty_concurrent_callers_share_one_load() -> None:
    flights = SingleFlight()
    calls = 0

    async def load() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return "answer"

    results = await asyncio.gather(*(flights.run("k", load) for _ in range(50)))

    assert results == ["answer"] * 50
    assert calls == 1
    assert flights.shared == 49
    assert flights.in_flight == 0


async def test_a_failed_load_fails_every_waiter_and_the_next_call_retries() -> None:
    flights = SingleFlight()
    attempts = 0

    async def load() -> str:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0.01)
        if attempts == 1:
            raise RuntimeError("loki down")
        return "ok"

    results = await asyncio.gather(
        *(flights.run("k", load) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)
    assert await flights.run("k", load) == "ok"


async def test_a_caller_that_leaves_does_not_cancel_the_others() -> None:
    flights = SingleFlight()

    async def load() -> str:
        await asyncio.sleep(0.05)
        return "answer"

    leader = asyncio.create_task(flights.run("k", load))
    await asyncio.sleep(0)
    follower = asyncio.create_task(flights.run("k", load))
    await asyncio.sleep(0.01)
    leader.cancel()

    assert await follower == "answer"


def test_large_payloads_are_compressed_and_round_trip() -> None:
    small = encode(b"x" * 10, 5, compress_min_bytes=100)
    large_payload = b'{"message":"connection refused"}' * 1000
    large = encode(large_payload, 5, compress_min_bytes=100)

    assert small[0] == 0
    assert large[0] == 1
    assert len(large) < len(large_payload) // 5
    assert decode(large) is not None
    assert decode(large).payload == large_payload  # type: ignore[union-attr]
    assert decode(b"\x01" + b"\x00" * 8 + b"garbage") is None
    assert decode(b"") is None
