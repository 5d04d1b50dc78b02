"""Emit DESIGN.md §3 log lines from an application.

Two pieces:

- `JsonLogFormatter`: a `logging.Formatter` that writes one flat snake_case JSON
  object per line (`ts`, `level`, `service`, `msg`, `event`, then any extras),
  with `trace_id`/`span_id` taken from the current OpenTelemetry span when the
  `opentelemetry` package is installed (it is optional, never required).
- `AIOperationLogger`: times an LLM call in a `with` or `async with` block and
  logs one `event="ai.operation"` line with model, tokens, duration, status and
  error type.

    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter(service="llm-proxy"))
    logging.getLogger().addHandler(handler)

    ai = AIOperationLogger(provider="openai")
    async with ai.operation("chat", model="gpt-4o", workspace_id="ws-1") as op:
        reply = await client.chat(...)
        op.input_tokens, op.output_tokens = reply.usage.prompt, reply.usage.completion
"""

from __future__ import annotations

import importlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import orjson

from ailogs.domain import NS_PER_SECOND, format_timestamp

__all__ = [
    "AIOperationLogger",
    "JsonLogFormatter",
    "OperationHandle",
    "OperationScope",
    "current_trace_context",
    "normalise_level",
]

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRS = frozenset(
    vars(logging.LogRecord("n", logging.INFO, "p", 1, "m", None, None)).keys()
) | {"message", "asctime", "taskName"}

# Fields the formatter owns; extras never overwrite them.
_CORE_FIELDS = ("ts", "level", "service", "msg", "event")

_LEVELS = {
    "trace": "debug",
    "debug": "debug",
    "info": "info",
    "notice": "info",
    "warn": "warning",
    "warning": "warning",
    "err": "error",
    "error": "error",
    "crit": "critical",
    "critical": "critical",
    "fatal": "critical",
    "panic": "critical",
    "alert": "critical",
    "emerg": "critical",
    "emergency": "critical",
}

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_WORD = re.compile(r"[^0-9a-zA-Z]+")


def normalise_level(name: str) -> str:
    """Map any level name to debug/info/warning/error/critical (unknown -> info)."""
    return _LEVELS.get(name.strip().lower(), "info")


def snake_case(key: str) -> str:
    """`workspaceId`, `workspace-id` and `workspace.id` all become `workspace_id`."""
    spaced = _CAMEL_BOUNDARY.sub("_", key)
    return _NOT_WORD.sub("_", spaced).strip("_").lower() or "field"


def current_trace_context() -> dict[str, str]:
    """`trace_id` and `span_id` (W3C hex) of the current OpenTelemetry span, if any.

    Returns an empty dict when `opentelemetry` is not installed or no valid span
    is active.
    """
    try:
        trace_api: Any = importlib.import_module("opentelemetry.trace")
    except ImportError:
        return {}
    context = trace_api.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}


class JsonLogFormatter(logging.Formatter):
    """One flat snake_case JSON object per record, as DESIGN.md §3 describes."""

    def __init__(
        self,
        *,
        service: str,
        default_event: str = "log",
        static_fields: Mapping[str, Any] | None = None,
        with_trace_context: bool = True,
    ) -> None:
        super().__init__()
        self.service = service
        self.default_event = default_event
        self.static_fields = {snake_case(k): v for k, v in (static_fields or {}).items()}
        self.with_trace_context = with_trace_context

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as one JSON line (no trailing newline)."""
        return orjson.dumps(self.to_fields(record), default=str).decode()

    def to_fields(self, record: logging.LogRecord) -> dict[str, Any]:
        """The flat field mapping of a record, before serialisation."""
        extras = self._extras(record)
        out: dict[str, Any] = {
            "ts": format_timestamp(int(record.created * NS_PER_SECOND)),
            "level": normalise_level(record.levelname),
            "service": str(extras.pop("service", None) or self.service),
            "msg": record.getMessage(),
            "event": str(extras.pop("event", None) or self.default_event),
        }
        for key, value in self.static_fields.items():
            out.setdefault(key, value)
        if self.with_trace_context and "trace_id" not in extras:
            extras.update(current_trace_context())
        if record.exc_info and record.exc_info[0] is not None:
            extras.setdefault("error_type", record.exc_info[0].__name__)
            extras.setdefault("exception", self.formatException(record.exc_info))
        for key, value in extras.items():
            if key not in _CORE_FIELDS and value is not None:
                out[key] = value
        return out

    @staticmethod
    def _extras(record: logging.LogRecord) -> dict[str, Any]:
        extras: dict[str, Any] = {}
        for key, value in vars(record).items():
            if key in _RECORD_ATTRS:
                continue
            if key == "fields" and isinstance(value, Mapping):
                extras.update({snake_case(str(k)): v for k, v in value.items()})
            else:
                extras[snake_case(key)] = value
        return extras


@dataclass(slots=True)
class OperationHandle:
    """What the caller fills in while the operation runs."""

    operation: str
    model: str
    provider: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    ttft_ms: float | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    _started: float = 0.0
    _clock: Callable[[], float] = time.perf_counter

    def mark_first_token(self) -> None:
        """Record time-to-first-token now (streaming calls)."""
        if self.ttft_ms is None:
            self.ttft_ms = round((self._clock() - self._started) * 1000, 3)


class OperationScope:
    """Context manager (sync and async) around one LLM operation."""

    def __init__(
        self,
        owner: AIOperationLogger,
        handle: OperationHandle,
        ids: dict[str, str],
    ) -> None:
        self._owner = owner
        self._handle = handle
        self._ids = ids

    def __enter__(self) -> OperationHandle:
        self._handle._started = self._handle._clock()
        return self._handle

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._owner.emit(self._handle, self._ids, exc_type)

    async def __aenter__(self) -> OperationHandle:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class AIOperationLogger:
    """Times LLM calls and logs one `event="ai.operation"` line per call."""

    def __init__(
        self,
        logger: logging.Logger | str = "ailogs.ai",
        *,
        provider: str | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self.provider = provider
        self.clock = clock

    def operation(
        self,
        operation: str,
        *,
        model: str,
        provider: str | None = None,
        correlation_id: str | None = None,
        conversation_id: str | None = None,
        workspace_id: str | None = None,
        **fields: Any,
    ) -> OperationScope:
        """A scope that times `operation` on `model`; use with `with` or `async with`."""
        ids = {
            key: value
            for key, value in (
                ("correlation_id", correlation_id),
                ("conversation_id", conversation_id),
                ("workspace_id", workspace_id),
            )
            if value
        }
        handle = OperationHandle(
            operation=operation,
            model=model,
            provider=provider or self.provider,
            fields=dict(fields),
            _clock=self.clock,
        )
        return OperationScope(self, handle, ids)

    def emit(
        self,
        handle: OperationHandle,
        ids: Mapping[str, str],
        exc_type: type[BaseException] | None,
    ) -> None:
        """Log the finished operation (called by the scope on exit)."""
        duration_ms = round((self.clock() - handle._started) * 1000, 3)
        failed = exc_type is not None
        record: dict[str, Any] = {
            "event": "ai.operation",
            "operation": handle.operation,
            "provider": handle.provider,
            "model": handle.model,
            "input_tokens": handle.input_tokens,
            "output_tokens": handle.output_tokens,
            "duration_ms": duration_ms,
            "ttft_ms": handle.ttft_ms,
            "status": "error" if failed else "ok",
            "error_type": exc_type.__name__ if exc_type is not None else None,
            **ids,
        }
        if handle.input_tokens is not None and handle.output_tokens is not None:
            record["tokens_used"] = handle.input_tokens + handle.output_tokens
        for key, value in handle.fields.items():
            record.setdefault(snake_case(key), value)
        outcome = f"failed with {record['error_type']}" if failed else "ok"
        self.logger.log(
            logging.ERROR if failed else logging.INFO,
            "%s %s %s in %.0f ms",
            handle.operation,
            handle.model,
            outcome,
            duration_ms,
            extra={"fields": {k: v for k, v in record.items() if v is not None}},
        )
