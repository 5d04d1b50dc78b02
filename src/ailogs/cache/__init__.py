"""Query cache adapters: a protocol, Redis and in-process implementations, key policy."""

from ailogs.cache.base import CachedAnswer, CacheHealth, CacheStats, QueryCache
from ailogs.cache.connection import connect_redis
from ailogs.cache.flight import SingleFlight
from ailogs.cache.memory import InMemoryQueryCache
from ailogs.cache.redis import RedisQueryCache

__all__ = [
    "CacheHealth",
    "CacheStats",
    "CachedAnswer",
    "InMemoryQueryCache",
    "QueryCache",
    "RedisQueryCache",
    "SingleFlight",
    "connect_redis",
]
