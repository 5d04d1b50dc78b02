"""Builds the cache, the rate limiter and the access control once, in the lifespan.

One Redis pool (AILOGS_REDIS_URL) serves both the cache and the rate limiter;
without a URL both live in process memory. Their counters reach Prometheus
through a collector that reads them at scrape time, and /health reports each
component so a dead Redis shows as `degraded` while requests keep succeeding.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ailogs.api.runtime import Runtime
from ailogs.cache import InMemoryQueryCache, QueryCache, RedisQueryCache
from ailogs.cache.connection import connect_redis
from ailogs.ratelimit import (
    FallbackRateLimiter,
    InMemoryRateLimiter,
    RateLimiter,
    RatePolicy,
    RedisRateLimiter,
)
from ailogs.services.access import AccessControl, is_loopback
from ailogs.services.audit import AuditRecorder
from ailogs.settings import Settings
from ailogs.store.access import SqlApiKeyRepository, SqlAuditSink
from ailogs.store.database import Database

_CACHE_COUNTERS = (
    ("hits", "Fresh answers served from the cache."),
    ("misses", "Lookups that found no fresh answer."),
    ("stale_served", "Stale answers served because Loki failed."),
    ("coalesced", "Requests that shared another request's Loki call."),
    ("errors", "Cache store errors (the request went on without the cache)."),
    ("bypassed", "Lookups and stores skipped while the store was down."),
    ("stores", "Answers written to the cache."),
    ("bytes_read", "Bytes of fresh answers read from the store."),
    ("bytes_stored", "Bytes written to the store (after compression)."),
    ("bytes_uncompressed", "Bytes of answers written, before compression."),
    ("invalidated", "Entries deleted by invalidation."),
)


def build_cache(settings: Settings) -> tuple[QueryCache, Any | None]:
    """The configured query cache, and the Redis client it uses (None: in-process)."""
    redis = (
        connect_redis(
            settings.redis.url,
            max_connections=settings.cache.redis_max_connections,
            socket_timeout_s=settings.cache.redis_timeout_s,
            connect_timeout_s=settings.cache.redis_connect_timeout_s,
            pool_timeout_s=settings.cache.redis_pool_timeout_s,
        )
        if settings.redis.url
        else None
    )
    if redis is None:
        memory = InMemoryQueryCache(
            max_entries=settings.cache.max_entries,
            max_bytes=settings.cache.max_bytes,
            stale_grace_s=settings.cache.stale_grace_s,
        )
        return memory, None
    shared = RedisQueryCache(
        redis,
        key_prefix=settings.redis.key_prefix,
        stale_grace_s=settings.cache.stale_grace_s,
        compress_min_bytes=settings.cache.compress_min_bytes,
    )
    return shared, redis


def install_protection(
    runtime: Runtime, *, redis: Any | None, database: Database | None = None
) -> None:
    """Attach access control; `redis` is the cache's client, shared by the rate limiter."""
    settings = runtime.settings
    cache = runtime.cache
    database = database or runtime.database
    if database is None:  # an app built without the store wiring: keys still need a table
        database = Database(settings.database.url, schema=settings.database.schema_name)
        runtime.closers.append(database.dispose)
    recorder = AuditRecorder(SqlAuditSink(database))
    recorder.start()
    runtime.closers.append(recorder.aclose)
    runtime.access = AccessControl(
        keys=SqlApiKeyRepository(database),
        limiter=build_rate_limiter(settings, redis),
        audit=recorder,
        default_tenant=settings.loki.tenant,
        # Without keys the API answers anyone only on loopback, unless allowed.
        open_allowed=settings.allow_anonymous or is_loopback(settings.host),
    )
    runtime.health_checks["cache"] = lambda: cache_health(cache)
    runtime.health_checks["rate_limit"] = lambda: rate_limit_health(runtime)
    runtime.metrics.registry.register(ProtectionCollector(runtime))


def build_rate_limiter(settings: Settings, redis: Any | None) -> RateLimiter | None:
    """GCRA in Redis with a per-process fallback, per-process only, or None when disabled."""
    limits = settings.rate_limit
    if not limits.enabled:
        return None
    policy = RatePolicy(rate_per_s=limits.per_second, burst=limits.burst)
    local = InMemoryRateLimiter(policy)
    if redis is None:
        return local
    shared = RedisRateLimiter(redis, policy, key_prefix=settings.redis.key_prefix)
    return FallbackRateLimiter(shared, local)


async def cache_health(cache: QueryCache) -> dict[str, Any]:
    """The cache component of /health: up or down, and its counters."""
    state = await cache.health()
    return {"status": state.value, "backend": cache.backend, **cache.stats.as_dict()}


async def rate_limit_health(runtime: Runtime) -> dict[str, Any]:
    """The rate-limit component of /health: `degraded` while running per process."""
    limiter = runtime.access.limiter if runtime.access is not None else None
    if limiter is None:
        return {"status": "disabled"}
    policy = runtime.settings.rate_limit
    body: dict[str, Any] = {"per_second": policy.per_second, "burst": policy.burst}
    if isinstance(limiter, FallbackRateLimiter):
        degraded = limiter.degraded
        backend = "local" if degraded else "redis"
        return {"status": "degraded" if degraded else "up", "backend": backend, **body}
    return {"status": "up", "backend": "local", **body}


class ProtectionCollector(Collector):
    """Cache and access-control counters, read at scrape time."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def collect(self) -> Iterator[Metric]:
        """Yield the current values."""
        cache = self._runtime.cache
        stats = cache.stats
        for name, documentation in _CACHE_COUNTERS:
            family = CounterMetricFamily(f"ailogs_cache_{name}", documentation, labels=["backend"])
            family.add_metric([cache.backend], getattr(stats, name))
            yield family
        down = isinstance(cache, RedisQueryCache) and cache.down
        up = GaugeMetricFamily("ailogs_cache_up", "1 while the cache store answers.")
        up.add_metric([], 0.0 if down else 1.0)
        yield up
        access = self._runtime.access
        if access is None:
            return
        limiter = access.limiter
        degraded = isinstance(limiter, FallbackRateLimiter) and limiter.degraded
        gauge = GaugeMetricFamily(
            "ailogs_rate_limit_degraded", "1 while rate limits run per process (Redis down)."
        )
        gauge.add_metric([], 1.0 if degraded else 0.0)
        yield gauge
        if access.audit is not None:
            written = CounterMetricFamily(
                "ailogs_audit_written",
                "Requests (answered, failed, refused) written to the audit table.",
            )
            written.add_metric([], access.audit.written)
            yield written
            dropped = CounterMetricFamily(
                "ailogs_audit_dropped", "Requests not audited (queue full or database down)."
            )
            dropped.add_metric([], access.audit.dropped)
            yield dropped
