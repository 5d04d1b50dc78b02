"""One error tree with stable codes.

Every error a client can see is an `AilogsError`: a stable `code`, an HTTP
status and a remediation sentence. Services raise these; the API renders them
with one handler into DESIGN.md §4's body. Nothing else reaches a client.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import ClassVar


class ErrorCode(StrEnum):
    """Stable error codes: part of the public API, never renamed."""

    VALIDATION_ERROR = "VALIDATION_ERROR"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    NOT_FOUND = "NOT_FOUND"
    UNAUTHORIZED = "UNAUTHORIZED"
    FORBIDDEN = "FORBIDDEN"
    RATE_LIMITED = "RATE_LIMITED"
    QUERY_TOO_EXPENSIVE = "QUERY_TOO_EXPENSIVE"
    INVALID_CURSOR = "INVALID_CURSOR"
    LOKI_BAD_QUERY = "LOKI_BAD_QUERY"
    LOKI_LIMIT_EXCEEDED = "LOKI_LIMIT_EXCEEDED"
    LOKI_UNAUTHORIZED = "LOKI_UNAUTHORIZED"
    LOKI_RATE_LIMITED = "LOKI_RATE_LIMITED"
    LOKI_UNAVAILABLE = "LOKI_UNAVAILABLE"
    LOKI_TIMEOUT = "LOKI_TIMEOUT"
    DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
    CACHE_UNAVAILABLE = "CACHE_UNAVAILABLE"
    CORRELATION_NOT_FOUND = "CORRELATION_NOT_FOUND"
    CONVERSATION_NOT_FOUND = "CONVERSATION_NOT_FOUND"
    WORKSPACE_NOT_FOUND = "WORKSPACE_NOT_FOUND"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    STREAM_LIMIT_EXCEEDED = "STREAM_LIMIT_EXCEEDED"
    INVALID_FRAME = "INVALID_FRAME"
    SHUTTING_DOWN = "SHUTTING_DOWN"


class AilogsError(Exception):
    """Base of every error a client may see."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_ERROR
    status: ClassVar[int] = 500
    remediation: ClassVar[str] = "Retry later; if it persists, report the request id."

    def __init__(
        self,
        message: str,
        *,
        remediation: str | None = None,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers: dict[str, str] = dict(headers or {})
        if remediation is not None:
            self.instance_remediation = remediation

    @property
    def how_to_fix(self) -> str:
        """The remediation for this instance (specific when given, else the class's)."""
        return getattr(self, "instance_remediation", type(self).remediation)


class ValidationFailed(AilogsError):
    """A request parameter or body field is invalid."""

    code = ErrorCode.VALIDATION_ERROR
    status = 422
    remediation = "Fix the named field and send the request again."


class PayloadTooLarge(AilogsError):
    """A request body or batch is larger than allowed."""

    code = ErrorCode.PAYLOAD_TOO_LARGE
    status = 413
    remediation = "Send a smaller body or split the batch."


class NotFound(AilogsError):
    """The addressed resource does not exist."""

    code = ErrorCode.NOT_FOUND
    status = 404
    remediation = "Check the id and the time window."


class CorrelationNotFound(NotFound):
    """No log line carries the requested correlation id in the window."""

    code = ErrorCode.CORRELATION_NOT_FOUND
    remediation = "Check the correlation id, or widen the time window."


class ConversationNotFound(NotFound):
    """No recorded operation belongs to the conversation."""

    code = ErrorCode.CONVERSATION_NOT_FOUND
    remediation = "Check the conversation id; operations appear after ingest."


class WorkspaceNotFound(NotFound):
    """No recorded operation belongs to the workspace."""

    code = ErrorCode.WORKSPACE_NOT_FOUND
    remediation = "Check the workspace id; operations appear after ingest."


class Unauthorized(AilogsError):
    """No valid API key was presented."""

    code = ErrorCode.UNAUTHORIZED
    status = 401
    remediation = "Send a valid key as `Authorization: Bearer <key>`."


class Forbidden(AilogsError):
    """The key may not read what was asked."""

    code = ErrorCode.FORBIDDEN
    status = 403
    remediation = "Ask only for workspaces your key may read."


class RateLimited(AilogsError):
    """The caller sent more requests than its rate allows."""

    code = ErrorCode.RATE_LIMITED
    status = 429
    remediation = "Wait for the Retry-After seconds, then retry."


class QueryTooExpensive(AilogsError):
    """The query would read more bytes than the budget allows."""

    code = ErrorCode.QUERY_TOO_EXPENSIVE
    status = 422
    remediation = "Narrow the window, name services, or add a search term."


class InvalidCursor(AilogsError):
    """A pagination cursor was modified, expired or belongs to another query."""

    code = ErrorCode.INVALID_CURSOR
    status = 400
    remediation = "Pass back the cursor exactly as it was returned, with the same query."


class LokiError(AilogsError):
    """Base of errors that come from Loki."""


class LokiBadQuery(LokiError):
    """Loki rejected the query (parse error, unsupported query type)."""

    code = ErrorCode.LOKI_BAD_QUERY
    status = 400
    remediation = "Check the parameters; the LogQL built from them was rejected by Loki."


class LokiLimitExceeded(LokiError):
    """The query exceeds one of Loki's limits (entries, time range, series)."""

    code = ErrorCode.LOKI_LIMIT_EXCEEDED
    status = 400
    remediation = "Lower `limit` or shorten the time window."


class LokiUnauthorized(LokiError):
    """Loki refused our credentials or tenant."""

    code = ErrorCode.LOKI_UNAUTHORIZED
    status = 502
    remediation = "Set AILOGS_LOKI_TENANT to a tenant Loki accepts (X-Scope-OrgID)."


class LokiRateLimited(LokiError):
    """Loki is throttling this tenant."""

    code = ErrorCode.LOKI_RATE_LIMITED
    status = 429
    remediation = "Retry after a pause, or ask for a smaller window."


class LokiUnavailable(LokiError):
    """Loki cannot be reached or keeps failing."""

    code = ErrorCode.LOKI_UNAVAILABLE
    status = 503
    remediation = "Check that Loki is running and reachable at AILOGS_LOKI_URL."


class LokiTimeout(LokiError):
    """Loki did not answer in time."""

    code = ErrorCode.LOKI_TIMEOUT
    status = 504
    remediation = "Shorten the time window or name fewer services."


class CacheUnavailable(AilogsError):
    """The shared cache cannot be reached for an operation that needs it (invalidation)."""

    code = ErrorCode.CACHE_UNAVAILABLE
    status = 503
    remediation = "Check that Redis at AILOGS_REDIS_URL is running, then retry."


class DatabaseUnavailable(AilogsError):
    """The operations database cannot be reached."""

    code = ErrorCode.DATABASE_UNAVAILABLE
    status = 503
    remediation = "Check that the database at AILOGS_DATABASE_URL is running."


class StreamLimitExceeded(AilogsError):
    """A live-stream limit (streams per client, total, upstream tails) was reached."""

    code = ErrorCode.STREAM_LIMIT_EXCEEDED
    status = 429
    remediation = "Close streams you no longer read, or reconnect later."


class InvalidFrame(AilogsError):
    """A live-stream client frame is not JSON, not an object, or of an unknown type."""

    code = ErrorCode.INVALID_FRAME
    status = 400
    remediation = "Send JSON objects typed subscribe, update_filter, unsubscribe or ping."


class SettingsError(Exception):
    """A setting is missing or invalid; raised at start-up, never to a client."""
