"""One handler renders every error as DESIGN.md §4's body; nothing internal leaks."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ailogs.api.metrics import ServiceMetrics
from ailogs.api.responses import JSONAnswer
from ailogs.errors import AilogsError, ErrorCode, NotFound, ValidationFailed
from ailogs.jsonlog import request_id_var

log = logging.getLogger("ailogs.api")

_STATUS_CODES = {
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.VALIDATION_ERROR,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    429: ErrorCode.RATE_LIMITED,
}


def error_body(code: str, message: str, remediation: str, **extra: Any) -> dict[str, Any]:
    """The error envelope every failed request answers."""
    error: dict[str, Any] = {
        "code": code,
        "message": message,
        "remediation": remediation,
        "request_id": request_id_var.get(),
    }
    error.update(extra)
    return {"error": error}


def render_error(exc: AilogsError) -> Response:
    """The HTTP response for an AilogsError."""
    extra = {"field": exc.field} if exc.field else {}
    body = error_body(exc.code.value, exc.message, exc.how_to_fix, **extra)
    return JSONAnswer(body, status_code=exc.status, headers=exc.headers or None)


def install_error_handlers(app: FastAPI, metrics: ServiceMetrics) -> None:
    """Register the handlers that turn every exception into the error body."""

    async def on_ailogs_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AilogsError)
        metrics.errors.labels(exc.code.value).inc()
        request.state.error_code = exc.code.value  # for the audit trail
        if exc.status >= 500:
            log.warning("request failed", extra={"code": exc.code.value, "reason": exc.message})
        return render_error(exc)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        location = [str(part) for part in first.get("loc", ()) if part not in ("query", "body")]
        field = ".".join(location) or None
        message = f"{field}: {first.get('msg', 'invalid')}" if field else str(first.get("msg"))
        return await on_ailogs_error(request, ValidationFailed(message, field=field))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, ErrorCode.VALIDATION_ERROR)
        if exc.status_code == 404:
            return await on_ailogs_error(request, NotFound(f"no route for {request.url.path}"))
        metrics.errors.labels(code.value).inc()
        body = error_body(code.value, str(exc.detail), "Check the method and path.")
        return JSONAnswer(body, status_code=exc.status_code)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"path": request.url.path})
        metrics.errors.labels(ErrorCode.INTERNAL_ERROR.value).inc()
        body = error_body(
            ErrorCode.INTERNAL_ERROR.value,
            "internal error",
            AilogsError.remediation,
        )
        return JSONAnswer(body, status_code=500)

    app.add_exception_handler(AilogsError, on_ailogs_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)
