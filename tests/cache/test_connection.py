"""The Redis connection pool under load: callers wait their turn, in order, and only
an overlong wait is reported as an error. Against the real Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from ailogs.cache.connection import FifoConnectionPool, connect_redis
from tests.redis_support import REDIS_URL, redis_unavailable


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., Redis]]:
    """Clients over the shared Redis, closed afterwards."""
    made: list[Redis] = []

    def make(**options: float) -> Redis:
        client = connect_redis(REDIS_URL, **options)  # type: ignore[arg-type]
        made.append(client)
        return client

    probe = make()
    try:
        await probe.ping()
    except (RedisError, OSError) as exc:
        redis_unavailable(repr(exc))
    yield make
    for client in made:
        await client.aclose()


def pool_of(client: Redis) -> FifoConnectionPool:
    pool = client.connection_pool
    assert isinstance(pool, FifoConnectionPool)
    return pool


async def hold(client: Redis, key: str, seconds: float) -> None:
    """Keep one connection busy for `seconds` (a BLPOP on a list nobody fills)."""
    await client.blpop([key], timeout=seconds)


async def test_more_callers_than_connections_all_succeed_within_the_bound(
    make_client: Callable[..., Redis], key_prefix: str
) -> None:
    client = make_client(max_connections=3, pool_timeout_s=5.0)
    pool = pool_of(client)
    peak = 0

    async def one(index: int) -> None:
        nonlocal peak
        await hold(client, f"{key_prefix}idle", 0.02)
        peak = max(peak, len(pool._in_use_connections))
        assert await client.echo(f"caller {index}") == f"caller {index}".encode()

    await asyncio.gather(*(one(i) for i in range(40)))

    assert 1 <= peak <= 3
    assert len(pool._in_use_connections) == 0
    assert len(pool._available_connections) <= 3


async def test_a_waiter_is_served_before_a_caller_that_keeps_coming_back(
    make_client: Callable[..., Redis],
) -> None:
    # One connection; a busy loop releases and asks again at once. The waiter that
    # arrived meanwhile must get the released connection, not wait behind it.
    client = make_client(max_connections=1, pool_timeout_s=5.0)
    done: list[str] = []

    async def busy() -> None:
        for _ in range(200):
            await client.ping()
        done.append("busy")

    async def waiter() -> None:
        await asyncio.sleep(0)  # arrives after the busy loop holds the connection
        await client.ping()
        done.append("waiter")

    await asyncio.gather(busy(), waiter())

    assert done == ["waiter", "busy"]


async def test_callers_are_served_in_arrival_order(
    make_client: Callable[..., Redis], key_prefix: str
) -> None:
    client = make_client(max_connections=1, pool_timeout_s=5.0)
    order: list[int] = []

    async def one(index: int) -> None:
        await client.echo(str(index))
        order.append(index)

    holder = asyncio.ensure_future(hold(client, f"{key_prefix}idle", 0.2))
    await asyncio.sleep(0.05)  # the holder has the only connection
    callers = []
    for index in range(10):
        callers.append(asyncio.ensure_future(one(index)))
        await asyncio.sleep(0)  # each caller queues before the next is created
    await asyncio.gather(holder, *callers)

    assert order == list(range(10))


async def test_a_wait_past_the_pool_timeout_is_a_connection_error_and_leaks_nothing(
    make_client: Callable[..., Redis], key_prefix: str
) -> None:
    client = make_client(max_connections=1, pool_timeout_s=0.1)
    pool = pool_of(client)
    holder = asyncio.ensure_future(hold(client, f"{key_prefix}idle", 0.6))
    await asyncio.sleep(0.05)

    started = time.monotonic()
    with pytest.raises(RedisConnectionError, match="No connection available"):
        await client.ping()
    waited = time.monotonic() - started
    await holder

    assert 0.09 <= waited < 0.5
    assert pool.waiting == 0
    assert await client.ping() is True  # the connection came back to the pool


async def test_a_cancelled_waiter_does_not_take_the_connection_with_it(
    make_client: Callable[..., Redis], key_prefix: str
) -> None:
    client = make_client(max_connections=1, pool_timeout_s=5.0)
    pool = pool_of(client)
    holder = asyncio.ensure_future(hold(client, f"{key_prefix}idle", 0.2))
    await asyncio.sleep(0.05)
    gone = asyncio.ensure_future(client.ping())
    await asyncio.sleep(0.01)
    assert pool.waiting == 1

    gone.cancel()
    await holder

    assert pool.waiting == 0
    assert await asyncio.wait_for(client.ping(), timeout=1.0) is True
    assert len(pool._in_use_connections) == 0


async def test_a_dead_server_still_fails_fast(make_client: Callable[..., Redis]) -> None:
    # Nothing listens on port 1: the connect is refused at once, no pool wait.
    client = connect_redis("redis://127.0.0.1:1/0", pool_timeout_s=5.0)
    started = time.monotonic()
    with pytest.raises((RedisError, OSError)):
        await client.ping()
    await client.aclose()

    assert time.monotonic() - started < 1.0
