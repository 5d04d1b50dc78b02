"""The QueryCache protocol every cache implementation follows, and its counters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class CacheHealth(StrEnum):
    """Whether the cache's store answers."""

    UP = "up"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A cached payload; `stale` when past its freshness but kept for stale-if-error."""

    payload: bytes
    stale: bool = False


@dataclass
class CacheStats:
    """Counters a cache keeps for /metrics and /health (monotonic, per process)."""

    hits: int = 0
    misses: int = 0
    stale_served: int = 0
    coalesced: int = 0
    errors: int = 0
    bypassed: int = 0
    stores: int = 0
    bytes_read: int = 0
    bytes_stored: int = 0
    bytes_uncompressed: int = 0
    invalidated: int = 0

    @property
    def hit_ratio(self) -> float | None:
        """Hits over lookups, or None before the first lookup."""
        lookups = self.hits + self.misses
        return round(self.hits / lookups, 4) if lookups else None

    def as_dict(self) -> dict[str, Any]:
        """The counters as a flat dict (the /health shape)."""
        return {
            "hits": self.hits,
            "misses": self.misses,
            "hit_ratio": self.hit_ratio,
            "stale_served": self.stale_served,
            "coalesced": self.coalesced,
            "errors": self.errors,
            "bypassed": self.bypassed,
            "stores": self.stores,
            "bytes_read": self.bytes_read,
            "bytes_stored": self.bytes_stored,
            "bytes_uncompressed": self.bytes_uncompressed,
            "invalidated": self.invalidated,
        }


class QueryCache(Protocol):
    """Stores serialized answers under opaque keys (see `cache.keys`).

    A cache never fails a request: when its store is unreachable, `get` answers
    None and `set` does nothing, and `health()` says DOWN until it answers again.
    """

    @property
    def backend(self) -> str:
        """A short name of the store (`redis`, `memory`)."""
        ...

    @property
    def stats(self) -> CacheStats:
        """The counters of this process."""
        ...

    async def get(self, key: str) -> CachedAnswer | None:
        """The entry for `key`, fresh or stale, or None."""
        ...

    async def set(self, key: str, payload: bytes, ttl_s: float) -> None:
        """Store `payload` fresh for `ttl_s` seconds (then stale for the grace period)."""
        ...

    async def coalesce(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        """Run `load` once for all concurrent callers of the same key (single-flight)."""
        ...

    async def invalidate(self, *, tenant: str | None = None, prefix: str | None = None) -> int:
        """Delete the entries of a tenant, or under a key prefix; returns how many."""
        ...

    async def health(self) -> CacheHealth:
        """UP when the store answers now."""
        ...

    async def ping(self) -> bool:
        """True when the backing store answers."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
