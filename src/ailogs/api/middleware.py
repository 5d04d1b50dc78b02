"""Pure-ASGI middleware: request ids, access logs, latency metrics, body size limit."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ailogs.api.metrics import ServiceMetrics
from ailogs.errors import ErrorCode, PayloadTooLarge
from ailogs.jsonlog import request_id_var

_SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
access_log = logging.getLogger("ailogs.access")


def new_request_id() -> str:
    """A fresh request id."""
    return uuid.uuid4().hex


# Told of every finished HTTP request: (scope, status, seconds). The audit trail.
Finished = Callable[[Scope, int, float], None]


class RequestContextMiddleware:
    """Gives every request an id (incoming `X-Request-ID` when safe), logs and times it."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: ServiceMetrics,
        max_body_bytes: int,
        finished: Finished | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.finished = finished

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap one HTTP or WebSocket connection."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = (
            incoming if incoming and _SAFE_REQUEST_ID.fullmatch(incoming) else new_request_id()
        )
        token = request_id_var.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            if scope["type"] == "http" and self._too_large(scope):
                await _reject_too_large(send_with_id, request_id, self.max_body_bytes)
                return
            await self.app(scope, _limited(receive, self.max_body_bytes), send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            if scope["type"] == "http":
                route = route_template(scope)
                self.metrics.http_latency.labels(route, scope["method"], str(status)).observe(
                    elapsed
                )
                access_log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
                if self.finished is not None:
                    self.finished(scope, status, elapsed)
            request_id_var.reset(token)

    def _too_large(self, scope: Scope) -> bool:
        length = _header(scope, b"content-length")
        return length is not None and length.isdigit() and int(length) > self.max_body_bytes


def route_template(scope: Scope) -> str:
    """The matched route as a template (`/api/v1/ai_logs/conversations/{id}`), low cardinality."""
    if scope.get("route") is None:
        return "unmatched"
    path: str = scope["path"]
    # Put the parameter names back where their values stand, segment by segment.
    values = {str(value): name for name, value in scope.get("path_params", {}).items()}
    return "/".join(
        "{" + values[part] + "}" if part in values else part for part in path.split("/")
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _limited(receive: Receive, limit: int) -> Receive:
    """Fail a streamed body that grows past the limit without a Content-Length."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLarge(f"request body is larger than {limit} bytes")
        return message

    return wrapped


async def _reject_too_large(send: Send, request_id: str, limit: int) -> None:
    body: dict[str, Any] = {
        "error": {
            "code": ErrorCode.PAYLOAD_TOO_LARGE.value,
            "message": f"request body is larger than {limit} bytes",
            "remediation": PayloadTooLarge.remediation,
            "request_id": request_id,
        }
    }
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
