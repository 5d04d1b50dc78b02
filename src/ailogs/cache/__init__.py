"""Query cache adapters: a protocol, an in-process implementation, key policy."""

from ailogs.cache.base import CachedAnswer, QueryCache
from ailogs.cache.memory import InMemoryQueryCache

__all__ = ["CachedAnswer", "InMemoryQueryCache", "QueryCache"]
