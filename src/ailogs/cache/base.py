"""The QueryCache protocol every cache implementation follows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A cached payload; `stale` when past its freshness but kept for stale-if-error."""

    payload: bytes
    stale: bool = False


class QueryCache(Protocol):
    """Stores serialized answers under opaque keys."""

    async def get(self, key: str) -> CachedAnswer | None:
        """The entry for `key`, fresh or stale, or None."""
        ...

    async def set(self, key: str, payload: bytes, ttl_s: float) -> None:
        """Store `payload` fresh for `ttl_s` seconds."""
        ...

    async def ping(self) -> bool:
        """True when the backing store answers."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
