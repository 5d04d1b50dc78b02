"""Validation of AI operation records: the rules both ingest doors apply.

A record is one flat JSON object in the log schema of DESIGN.md §3 (the line an
`event="ai.operation"` log carries, or one element of `POST /operations`).

Rules:
- `ts` is required: RFC3339 (nanoseconds allowed) or a Unix number in seconds,
  milliseconds, microseconds or nanoseconds (told apart by magnitude). It must
  fall after 2000-01-01 and no later than one day past the server clock.
- Token counts are integers in [0, 100,000,000]; `duration_ms` and `ttft_ms`
  are in [0, 3,600,000] (one hour); `cost_usd` is in [0, 10,000]; `http_status`
  in [100, 599]. Anything else rejects the record, with the field named.
- Ids (trace, span, correlation, conversation, workspace, operation_id) are at
  most 64 characters, names (service, model, provider, operation, error_type)
  at most 128; longer values reject the record.
- Unknown fields are kept: they join `attributes`. If the attributes serialise
  to more than 16 KiB they are replaced by `{"_dropped_bytes": n}`; the
  operation itself is still stored.
- `status` is `ok` or `error` (`success`/`failure`/`failed` are accepted); when
  absent it is `error` if `error_type` is set or `http_status` >= 400.
- The row id is the BLAKE2b-128 of the record's canonical JSON (sorted keys),
  or of `operation_id` when the record names one: sending the same record twice,
  through either door, stores it once.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ailogs.domain import NS_PER_SECOND
from ailogs.services.pricing import PriceTable
from ailogs.store.enums import CostSource, OperationSource, OperationStatus
from ailogs.store.records import NewOperation

MAX_TOKENS = 100_000_000
MAX_DURATION_MS = 3_600_000.0
MAX_COST_USD = Decimal(10_000)
ATTRIBUTES_MAX_BYTES = 16 * 1024
EARLIEST_NS = 946_684_800 * NS_PER_SECOND  # 2000-01-01
FUTURE_SLACK_NS = 86_400 * NS_PER_SECOND

Id = Annotated[str, Field(min_length=1, max_length=64)]
Name = Annotated[str, Field(min_length=1, max_length=128)]
Tokens = Annotated[int, Field(ge=0, le=MAX_TOKENS, strict=False)]
Millis = Annotated[float, Field(ge=0, le=MAX_DURATION_MS, allow_inf_nan=False)]

_STATUS = {
    "ok": OperationStatus.OK,
    "success": OperationStatus.OK,
    "error": OperationStatus.ERROR,
    "failure": OperationStatus.ERROR,
    "failed": OperationStatus.ERROR,
}
_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$",
    re.IGNORECASE,
)
# Fields that are the envelope of a log line rather than facts about the call.
_ENVELOPE = frozenset({"ts", "event"})


class OperationRecord(BaseModel):
    """One AI operation record as a client or a log line states it."""

    model_config = ConfigDict(extra="allow", frozen=True, str_strip_whitespace=True)

    ts: int
    operation_id: Id | None = None
    service: Name = "unknown"
    operation: Name = "chat"
    provider: Name = "unknown"
    model: Name = "unknown"
    response_model: Name | None = None
    workspace_id: Annotated[str, Field(max_length=64)] = ""
    trace_id: Id | None = None
    span_id: Id | None = None
    parent_span_id: Id | None = None
    correlation_id: Id | None = None
    conversation_id: Id | None = None
    input_tokens: Tokens = 0
    output_tokens: Tokens = 0
    cache_read_tokens: Tokens = 0
    reasoning_tokens: Tokens = 0
    duration_ms: Millis = 0.0
    ttft_ms: Millis | None = None
    status: OperationStatus | None = None
    error_type: Name | None = None
    http_status: Annotated[int, Field(ge=100, le=599)] | None = None
    cost_usd: Annotated[Decimal, Field(ge=0, le=MAX_COST_USD, allow_inf_nan=False)] | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("ts", mode="before")
    @classmethod
    def _timestamp(cls, value: Any) -> int:
        return parse_timestamp_ns(value)

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> OperationStatus | None:
        if value is None or value == "":
            return None
        status = _STATUS.get(str(value).lower())
        if status is None:
            raise ValueError("must be ok or error")
        return status


def parse_timestamp_ns(value: Any) -> int:
    """RFC3339 text or a Unix number (s, ms, µs or ns by magnitude) as Unix nanoseconds."""
    if isinstance(value, bool):
        raise ValueError("must be an RFC3339 timestamp or a Unix time")
    if isinstance(value, int | float):
        magnitude = abs(value)
        if magnitude >= 1e17:
            return int(value)
        if magnitude >= 1e14:
            return int(value * 1_000)
        if magnitude >= 1e11:
            return int(value * 1_000_000)
        return int(Decimal(str(value)) * NS_PER_SECOND)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(\.\d+)?", text):
            return parse_timestamp_ns(float(text) if "." in text else int(text))
        match = _RFC3339.match(text)
        if match:
            whole, fraction, zone = match.groups()
            zone = "+00:00" if zone.upper() == "Z" else zone
            stamp = datetime.fromisoformat(whole.replace(" ", "T") + zone)
            nanos = int((fraction or "0").ljust(9, "0"))
            return int(stamp.timestamp()) * NS_PER_SECOND + nanos
    raise ValueError("must be an RFC3339 timestamp or a Unix time")


def operation_id(raw: dict[str, Any], record: OperationRecord) -> str:
    """The content-derived row id (see the module rules)."""
    if record.operation_id is not None:
        material = b"operation_id\0" + record.operation_id.encode()
    else:
        material = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.blake2b(material, digest_size=16).hexdigest()


def describe_error(error: ValidationError) -> str:
    """The first problem of a record, as `field: reason`."""
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "record"
    return f"{where}: {first['msg']}"


def build_operation(
    raw: dict[str, Any],
    *,
    prices: PriceTable,
    source: OperationSource,
    now_ns: int,
) -> NewOperation:
    """Validate and normalise one record; ValueError says why it is rejected."""
    try:
        record = OperationRecord.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(describe_error(exc)) from None
    if not EARLIEST_NS <= record.ts <= now_ns + FUTURE_SLACK_NS:
        raise ValueError("ts: must be after 2000-01-01 and at most one day ahead")
    status = record.status
    if status is None:
        failed = record.error_type is not None or (record.http_status or 0) >= 400
        status = OperationStatus.ERROR if failed else OperationStatus.OK
    cost, cost_source, version = record.cost_usd, CostSource.RECORD, None
    if cost is None:
        priced = prices.cost(
            (record.response_model, record.model),
            input_tokens=record.input_tokens,
            output_tokens=record.output_tokens,
            cache_read_tokens=record.cache_read_tokens,
        )
        if priced is None:
            cost_source = CostSource.UNPRICED
        else:
            cost, cost_source, version = priced.cost_usd, CostSource.COMPUTED, priced.version
    return NewOperation(
        id=operation_id(raw, record),
        start_time_ns=record.ts,
        service=record.service,
        operation=record.operation,
        provider=record.provider,
        request_model=record.model,
        response_model=record.response_model,
        workspace_id=record.workspace_id,
        trace_id=record.trace_id,
        span_id=record.span_id,
        parent_span_id=record.parent_span_id,
        correlation_id=record.correlation_id,
        conversation_id=record.conversation_id,
        input_tokens=record.input_tokens,
        output_tokens=record.output_tokens,
        cache_read_tokens=record.cache_read_tokens,
        reasoning_tokens=record.reasoning_tokens,
        duration_ms=record.duration_ms,
        ttft_ms=record.ttft_ms,
        status=status,
        error_type=record.error_type,
        http_status=record.http_status,
        cost_usd=cost,
        cost_source=cost_source,
        price_version=version,
        source=source,
        ingested_at_ns=now_ns,
        attributes=_attributes(record),
    )


def _attributes(record: OperationRecord) -> dict[str, Any]:
    attributes = dict(record.attributes)
    for name, value in (record.model_extra or {}).items():
        if name not in _ENVELOPE:
            attributes.setdefault(name, value)
    if not attributes:
        return attributes
    size = len(orjson.dumps(attributes, option=orjson.OPT_NON_STR_KEYS))
    if size > ATTRIBUTES_MAX_BYTES:
        return {"_dropped_bytes": size}
    return attributes
