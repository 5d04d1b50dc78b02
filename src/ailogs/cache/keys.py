"""Cache keys and freshness policy for query answers.

A key is `q:<tenant tag>:<digest>`: both parts are hashes, so no user text
ever appears in a key name, and a tenant's entries share a prefix that
`invalidate(tenant=...)` can SCAN for. The digest covers the normalised LogQL,
the window, the limit and the direction. Relative windows are aligned by the
request parser (`services.request_spec`) so that repeated "last 15m" calls
within one alignment step build the same window and share a key.
"""

from __future__ import annotations

import hashlib
import re

from ailogs.domain import NS_PER_SECOND

KEY_VERSION = "v1"
KEY_NAMESPACE = "q:"
IMMUTABLE_TTL_S = 24 * 3600.0
LIVE_TTL_S = 10.0

_QUOTED_OR_SPACE = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|\s+')
_KEY_PREFIX = re.compile(r"(?:q:)?[0-9a-f:]{0,80}")


def normalise_logql(logql: str) -> str:
    """LogQL with runs of whitespace outside string literals collapsed to one space."""

    def replace(match: re.Match[str]) -> str:
        text = match.group(0)
        return " " if text[0].isspace() else text

    return _QUOTED_OR_SPACE.sub(replace, logql).strip()


def tenant_tag(tenant: str | None) -> str:
    """The hashed tenant part of a key (16 hex digits)."""
    return hashlib.blake2b((tenant or "").encode(), digest_size=8).hexdigest()


def tenant_prefix(tenant: str | None) -> str:
    """The key prefix every entry of `tenant` shares."""
    return f"{KEY_NAMESPACE}{tenant_tag(tenant)}:"


def answer_key(
    *,
    tenant: str | None,
    logql: str,
    start_ns: int,
    end_ns: int,
    limit: int,
    direction: str,
    kind: str = "query",
) -> str:
    """The opaque key of one answer."""
    parts = (KEY_VERSION, kind, normalise_logql(logql), start_ns, end_ns, limit, direction)
    material = "\x1f".join(str(part) for part in parts)
    digest = hashlib.blake2b(material.encode(), digest_size=20).hexdigest()
    return f"{tenant_prefix(tenant)}{digest}"


def valid_key_prefix(prefix: str) -> bool:
    """True for a prefix made only of key characters (`q:`, hex, `:`): safe in SCAN MATCH."""
    return _KEY_PREFIX.fullmatch(prefix) is not None


def answer_ttl_s(
    end_ns: int,
    now_ns: int,
    ingestion_delay_s: int,
    *,
    live_ttl_s: float = LIVE_TTL_S,
    immutable_ttl_s: float = IMMUTABLE_TTL_S,
) -> float:
    """Long for windows that ended beyond the ingestion delay, short for live ones.

    Lines may still arrive for a window until the ingestion delay has passed
    after its end; from then on its answer cannot change.
    """
    if now_ns - end_ns > ingestion_delay_s * NS_PER_SECOND:
        return immutable_ttl_s
    return live_ttl_s


def align_up_ns(now_ns: int, step_ns: int) -> int:
    """`now_ns` rounded up to a multiple of `step_ns` (unchanged when step is 0)."""
    if step_ns <= 0:
        return now_ns
    return -(-now_ns // step_ns) * step_ns
