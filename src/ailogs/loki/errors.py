"""Map Loki's plain-text errors into the ailogs error tree — the one place that does."""

from __future__ import annotations

import httpx

from ailogs.errors import (
    LokiBadQuery,
    LokiError,
    LokiLimitExceeded,
    LokiRateLimited,
    LokiTimeout,
    LokiUnauthorized,
    LokiUnavailable,
)

_MAX_REASON = 300

# Substrings of Loki's 400 bodies that mean "a limit was hit", not "bad syntax".
_LIMIT_MARKERS = (
    "max entries limit",
    "query time range exceeds",
    "maximum of series",
    "max_query_series",
    "too many outstanding requests",
    "the query would read too many bytes",
    "exceeds the limit",
)


def loki_reason(body: str) -> str:
    """Loki's error text, trimmed to one line of bounded length."""
    text = " ".join(body.split())
    return text[:_MAX_REASON] + ("…" if len(text) > _MAX_REASON else "")


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The Retry-After delay in seconds, when the header is a number."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds <= 3600 else None


def error_for_response(response: httpx.Response) -> LokiError:
    """The ailogs error for a non-2xx Loki response."""
    status = response.status_code
    reason = loki_reason(response.text)
    if status == 400:
        lowered = reason.lower()
        if any(marker in lowered for marker in _LIMIT_MARKERS):
            return LokiLimitExceeded(f"Loki refused the query: {reason}")
        return LokiBadQuery(f"Loki rejected the query: {reason}")
    if status in (401, 403):
        return LokiUnauthorized(f"Loki refused the request ({status}): {reason}")
    if status == 404:
        return LokiBadQuery(
            f"Loki does not serve this endpoint: {reason}",
            remediation="Enable the feature in Loki (pattern ingester, volume) or upgrade Loki.",
        )
    if status == 429:
        retry_after = retry_after_seconds(response)
        headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else None
        return LokiRateLimited(f"Loki is rate limiting this tenant: {reason}", headers=headers)
    if status == 504:
        return LokiTimeout(f"Loki timed out: {reason}")
    return LokiUnavailable(f"Loki answered {status}: {reason}")


def error_for_transport(exc: httpx.TransportError) -> LokiError:
    """The ailogs error for a failure below HTTP (connect, read, protocol)."""
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return LokiTimeout("Loki did not answer within the timeout")
    return LokiUnavailable(f"cannot reach Loki: {type(exc).__name__}")
