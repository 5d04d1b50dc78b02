"""An in-process QueryCache: bounded, TTL-aware, keeps expired entries as stale."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ailogs.cache.base import CachedAnswer, CacheHealth, CacheStats
from ailogs.cache.flight import SingleFlight
from ailogs.cache.keys import KEY_NAMESPACE, tenant_prefix, valid_key_prefix

T = TypeVar("T")


class InMemoryQueryCache:
    """LRU cache in this process, bounded in entries and in bytes.

    Entries past their TTL are served only as stale. An answer larger than the
    whole byte budget is not kept.
    """

    def __init__(
        self,
        *,
        max_entries: int = 1024,
        max_bytes: int = 256 * 1024 * 1024,
        stale_grace_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0
        self._stale_grace_s = stale_grace_s
        self._clock = clock
        self._flights = SingleFlight()
        self._stats = CacheStats()

    @property
    def backend(self) -> str:
        """`memory`."""
        return "memory"

    @property
    def stats(self) -> CacheStats:
        """The counters of this process."""
        self._stats.coalesced = self._flights.shared
        return self._stats

    async def get(self, key: str) -> CachedAnswer | None:
        """The entry for `key`, fresh or stale, or None."""
        entry = self._entries.get(key)
        if entry is None:
            self._stats.misses += 1
            return None
        payload, expires_at = entry
        now = self._clock()
        if now >= expires_at + self._stale_grace_s:
            self._drop(key)
            self._stats.misses += 1
            return None
        self._entries.move_to_end(key)
        stale = now >= expires_at
        if stale:
            self._stats.misses += 1
        else:
            self._stats.hits += 1
            self._stats.bytes_read += len(payload)
        return CachedAnswer(payload, stale=stale)

    async def set(self, key: str, payload: bytes, ttl_s: float) -> None:
        """Store `payload` fresh for `ttl_s` seconds, evicting the least recently used."""
        self._drop(key)
        if len(payload) > self._max_bytes:
            return
        self._entries[key] = (payload, self._clock() + ttl_s)
        self._bytes += len(payload)
        self._stats.stores += 1
        self._stats.bytes_stored += len(payload)
        self._stats.bytes_uncompressed += len(payload)
        while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
            _, (evicted, _) = self._entries.popitem(last=False)
            self._bytes -= len(evicted)

    @property
    def size_bytes(self) -> int:
        """Bytes of answers held."""
        return self._bytes

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry[0])

    async def coalesce(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        """Run `load` once for all concurrent callers of the same key."""
        return await self._flights.run(key, load)

    async def invalidate(self, *, tenant: str | None = None, prefix: str | None = None) -> int:
        """Delete a tenant's entries, or those under `prefix` (hex and `:` only)."""
        match = match_prefix(tenant, prefix)
        doomed = [key for key in self._entries if key.startswith(match)]
        for key in doomed:
            self._drop(key)
        self._stats.invalidated += len(doomed)
        return len(doomed)

    async def health(self) -> CacheHealth:
        """Always up."""
        return CacheHealth.UP

    async def ping(self) -> bool:
        """Always reachable."""
        return True

    async def aclose(self) -> None:
        """Nothing to release."""


def match_prefix(tenant: str | None, prefix: str | None) -> str:
    """The key prefix to delete under: the tenant's, narrowed by `prefix` when given."""
    if prefix is not None and not valid_key_prefix(prefix):
        raise ValueError("a cache key prefix has only hex digits and ':'")
    if prefix is None:
        return tenant_prefix(tenant) if tenant is not None else KEY_NAMESPACE
    if tenant is not None:
        base = tenant_prefix(tenant)
        stripped = prefix.removeprefix(base)
        return base + stripped
    return prefix if prefix.startswith(KEY_NAMESPACE) else KEY_NAMESPACE + prefix
