"""The shared QueryCache in Redis: compressed entries, stale-if-error, never a hard failure.

Each entry lives for its TTL plus `stale_grace_s`; the header records when it
stops being fresh (see `cache.codec`). When Redis fails, the call is answered
as a miss (the request goes to Loki), the cache reports DOWN, and Redis is
skipped for `retry_after_s`; the first call after that tries it again, so a
Redis that comes back is used without a restart.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from ailogs.cache.base import CachedAnswer, CacheHealth, CacheStats
from ailogs.cache.codec import HEADER_BYTES, Entry, decode, encode
from ailogs.cache.flight import SingleFlight
from ailogs.cache.memory import match_prefix

T = TypeVar("T")
logger = logging.getLogger(__name__)

# Errors that mean "Redis is unreachable or failing", as opposed to a bug.
STORE_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)


class RedisQueryCache:
    """QueryCache over one Redis connection pool (built once by the app)."""

    def __init__(
        self,
        client: Redis,
        *,
        key_prefix: str,
        stale_grace_s: float = 600.0,
        compress_min_bytes: int = 16 * 1024,
        retry_after_s: float = 1.0,
        scan_count: int = 1000,
        decoded_memo_bytes: int = 32 * 1024 * 1024,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._prefix = key_prefix
        self._stale_grace_s = stale_grace_s
        self._compress_min_bytes = compress_min_bytes
        self._retry_after_s = retry_after_s
        self._scan_count = scan_count
        self._clock = clock
        self._monotonic = monotonic
        self._skip_until = 0.0
        self._down = False
        self._flights = SingleFlight()
        self._stats = CacheStats()
        # Recently inflated entries by key, with the compressed bytes they came from.
        self._memo: OrderedDict[str, tuple[bytes, Entry]] = OrderedDict()
        self._memo_bytes = 0
        self._memo_max_bytes = decoded_memo_bytes

    @property
    def backend(self) -> str:
        """`redis`."""
        return "redis"

    @property
    def stats(self) -> CacheStats:
        """The counters of this process."""
        self._stats.coalesced = self._flights.shared
        return self._stats

    @property
    def down(self) -> bool:
        """True while the last attempt on Redis failed."""
        return self._down

    async def get(self, key: str) -> CachedAnswer | None:
        """The entry for `key`, fresh or stale; None when absent or Redis is down."""
        if self._skipping():
            self._stats.bypassed += 1
            self._stats.misses += 1
            return None
        try:
            blob = await self._client.get(self._prefix + key)
        except STORE_ERRORS as exc:
            self._failed(exc)
            self._stats.misses += 1
            return None
        self._recovered()
        if not isinstance(blob, bytes):
            self._stats.misses += 1
            return None
        entry = self._decoded(key, blob)
        if entry is None:
            self._stats.misses += 1
            return None
        stale = self._clock() * 1000 >= entry.fresh_until_ms
        if stale:
            self._stats.misses += 1
        else:
            self._stats.hits += 1
            self._stats.bytes_read += len(blob)
        return CachedAnswer(entry.payload, stale=stale)

    async def set(self, key: str, payload: bytes, ttl_s: float) -> None:
        """Store `payload` fresh for `ttl_s`, kept `stale_grace_s` more for stale-if-error."""
        if self._skipping():
            self._stats.bypassed += 1
            return
        fresh_until_ms = int((self._clock() + ttl_s) * 1000)
        blob = encode(payload, fresh_until_ms, compress_min_bytes=self._compress_min_bytes)
        self._remember(key, blob, Entry(payload, fresh_until_ms))
        try:
            await self._client.set(
                self._prefix + key, blob, px=max(1, int((ttl_s + self._stale_grace_s) * 1000))
            )
        except STORE_ERRORS as exc:
            self._failed(exc)
            return
        self._recovered()
        self._stats.stores += 1
        self._stats.bytes_stored += len(blob)
        self._stats.bytes_uncompressed += len(payload)

    async def coalesce(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        """Run `load` once for all concurrent callers of the same key in this process."""
        return await self._flights.run(key, load)

    async def invalidate(self, *, tenant: str | None = None, prefix: str | None = None) -> int:
        """Delete a tenant's entries, or those under `prefix`, with SCAN + UNLINK.

        Raises the store error when Redis is unreachable: the caller asked for a
        deletion and must not be told it happened.
        """
        pattern = f"{self._prefix}{match_prefix(tenant, prefix)}*"
        deleted = 0
        batch: list[bytes] = []
        try:
            async for name in self._client.scan_iter(match=pattern, count=self._scan_count):
                batch.append(name)
                if len(batch) >= self._scan_count:
                    deleted += int(await self._client.unlink(*batch))
                    batch.clear()
            if batch:
                deleted += int(await self._client.unlink(*batch))
        except STORE_ERRORS as exc:
            self._failed(exc)
            raise
        self._recovered()
        self._stats.invalidated += deleted
        return deleted

    async def health(self) -> CacheHealth:
        """UP when Redis answers a PING now."""
        return CacheHealth.UP if await self.ping() else CacheHealth.DOWN

    async def ping(self) -> bool:
        """True when Redis answers (this also ends a skip period early)."""
        try:
            await self._client.ping()
        except STORE_ERRORS as exc:
            self._failed(exc)
            return False
        self._recovered()
        return True

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    def _decoded(self, key: str, blob: bytes) -> Entry | None:
        """`decode(blob)`, reusing the last decompression when Redis sent the same bytes.

        The blob is still read from Redis on every lookup, so an entry replaced or
        invalidated elsewhere is never answered from here; only the inflating of an
        unchanged blob (about 0.4 ms for a 1000-line answer) is skipped.
        """
        known = self._memo.get(key)
        if known is not None and known[0] == blob:
            self._memo.move_to_end(key)
            return known[1]
        entry = decode(blob)
        if entry is not None:
            self._remember(key, blob, entry)
        return entry

    def _remember(self, key: str, blob: bytes, entry: Entry) -> None:
        if len(blob) - HEADER_BYTES >= len(entry.payload):
            return  # stored raw: nothing to save
        old = self._memo.pop(key, None)
        if old is not None:
            self._memo_bytes -= len(old[0]) + len(old[1].payload)
        size = len(blob) + len(entry.payload)
        if size > self._memo_max_bytes:
            return
        self._memo[key] = (blob, entry)
        self._memo_bytes += size
        while self._memo_bytes > self._memo_max_bytes:
            _, (dropped_blob, dropped) = self._memo.popitem(last=False)
            self._memo_bytes -= len(dropped_blob) + len(dropped.payload)

    def _skipping(self) -> bool:
        return self._down and self._monotonic() < self._skip_until

    def _failed(self, exc: BaseException) -> None:
        self._stats.errors += 1
        if not self._down:
            logger.warning("cache store failed, bypassing the cache: %r", exc)
        self._down = True
        self._skip_until = self._monotonic() + self._retry_after_s

    def _recovered(self) -> None:
        if self._down:
            logger.info("cache store is back")
        self._down = False
        self._skip_until = 0.0
