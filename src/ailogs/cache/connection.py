"""One Redis connection pool per process, built from a URL by the app's lifespan."""

from __future__ import annotations

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff


def connect_redis(
    url: str,
    *,
    max_connections: int = 64,
    socket_timeout_s: float = 0.5,
    connect_timeout_s: float = 0.5,
    pool_timeout_s: float = 1.0,
) -> Redis:
    """A client over a bounded, blocking pool that fails fast when Redis is gone.

    No retry loop: the cache and the rate limiter fall back on the first error,
    which is what keeps a dead Redis from adding latency to every request.
    Nothing connects until the first command.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=pool_timeout_s,
        socket_timeout=socket_timeout_s,
        socket_connect_timeout=connect_timeout_s,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
    )
    return Redis.from_pool(pool)
