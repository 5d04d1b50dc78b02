"""Cache keys and freshness policy for query answers."""

from __future__ import annotations

import hashlib

from ailogs.domain import NS_PER_SECOND

# A window ending this long before now no longer changes: cache it long.
IMMUTABLE_TTL_S = 24 * 3600.0
LIVE_TTL_S = 10.0


def answer_key(*parts: object) -> str:
    """An opaque key from the parts that make an answer unique (no raw user text)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=20).hexdigest()
    return f"q:{digest}"


def answer_ttl_s(end_ns: int, now_ns: int, ingestion_delay_s: int) -> float:
    """Long for windows that ended beyond the ingestion delay, short for live ones."""
    if now_ns - end_ns > ingestion_delay_s * NS_PER_SECOND:
        return IMMUTABLE_TTL_S
    return LIVE_TTL_S
