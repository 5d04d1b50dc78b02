"""An in-process QueryCache: bounded, TTL-aware, keeps expired entries as stale."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from ailogs.cache.base import CachedAnswer


class InMemoryQueryCache:
    """LRU cache in this process. Entries past their TTL are served only as stale."""

    def __init__(
        self,
        *,
        max_entries: int = 1024,
        stale_grace_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._max_entries = max_entries
        self._stale_grace_s = stale_grace_s
        self._clock = clock

    async def get(self, key: str) -> CachedAnswer | None:
        """The entry for `key`, fresh or stale, or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        payload, expires_at = entry
        now = self._clock()
        if now >= expires_at + self._stale_grace_s:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return CachedAnswer(payload, stale=now >= expires_at)

    async def set(self, key: str, payload: bytes, ttl_s: float) -> None:
        """Store `payload` fresh for `ttl_s` seconds, evicting the least recently used."""
        self._entries[key] = (payload, self._clock() + ttl_s)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def ping(self) -> bool:
        """Always reachable."""
        return True

    async def aclose(self) -> None:
        """Nothing to release."""
