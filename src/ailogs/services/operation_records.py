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


def operation_id(raw: dict[str, Any], given: str | None) -> str:
    """The content-derived row id (see the module rules); `given` is the record's operation_id."""
    if given is not None:
        material = b"operation_id\0" + given.encode()
    else:
        try:
            material = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # a key that is not text: the same bytes, by a slower path
            material = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.blake2b(material, digest_size=16).hexdigest()


def describe_error(error: ValidationError) -> str:
    """The first problem of a record, as `field: reason`."""
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "record"
    return f"{where}: {first['msg']}"


# The lean path below accepts only records whose every field already has its
# final type and passes its rule; anything else (a missing `ts`, a numeric
# string, a cost, a bad value) goes through OperationRecord, which gives the
# same result and the exact rejection reason. Both paths must agree.
#
# It walks the record once, dispatching on each field's kind, and starts from a
# copy of the defaults: one dict lookup per field present instead of a call per
# field known, which is what keeps validation cheap at ingest rates.
_ID, _NAME, _OPTIONAL_NAME, _WORKSPACE, _TOKENS, _MILLIS, _OPTIONAL_MILLIS = range(7)
_STATUS_FIELD, _HTTP_STATUS, _ATTRIBUTES, _TS, _COST = range(7, 12)
_KINDS: dict[str, int] = {
    "operation_id": _ID,
    "trace_id": _ID,
    "span_id": _ID,
    "parent_span_id": _ID,
    "correlation_id": _ID,
    "conversation_id": _ID,
    "service": _NAME,
    "operation": _NAME,
    "provider": _NAME,
    "model": _NAME,
    "response_model": _OPTIONAL_NAME,
    "error_type": _OPTIONAL_NAME,
    "workspace_id": _WORKSPACE,
    "input_tokens": _TOKENS,
    "output_tokens": _TOKENS,
    "cache_read_tokens": _TOKENS,
    "reasoning_tokens": _TOKENS,
    "duration_ms": _MILLIS,
    "ttft_ms": _OPTIONAL_MILLIS,
    "status": _STATUS_FIELD,
    "http_status": _HTTP_STATUS,
    "attributes": _ATTRIBUTES,
    "ts": _TS,
    "cost_usd": _COST,
}
_TEXT_LIMITS = (64, 128, 128, 64)  # longest _ID, _NAME, _OPTIONAL_NAME, _WORKSPACE
_RECORD_FIELDS = frozenset(OperationRecord.model_fields)
if _RECORD_FIELDS != frozenset(_KINDS):
    raise RuntimeError("every OperationRecord field needs a lean rule in _KINDS")
_LEAN_DEFAULTS: dict[str, Any] = {
    name: field.default
    for name, field in OperationRecord.model_fields.items()
    if name not in ("ts", "attributes")
}


def _lean_fields(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(fields, extras) of a well-formed record, or None to let pydantic decide."""
    fields = _LEAN_DEFAULTS.copy()
    extras: dict[str, Any] = {}
    kinds = _KINDS
    ts = None
    attributes: dict[str, Any] | None = None
    for name, value in raw.items():
        kind = kinds.get(name)
        if kind is None:
            extras[name] = value
            continue
        if kind <= _WORKSPACE:  # text: ids, names, the workspace
            # Only text no strip would change (strip() returns the very same
            # object then): pydantic trims Unicode White_Space, a subset of what
            # str.strip removes, so such text reads the same to both.
            if type(value) is not str or value.strip() is not value:
                if value is None and (kind == _ID or kind == _OPTIONAL_NAME):
                    continue
                return None
            if not 0 < len(value) <= _TEXT_LIMITS[kind] and (value or kind != _WORKSPACE):
                return None
        elif kind == _TOKENS:
            if type(value) is not int or not 0 <= value <= MAX_TOKENS:
                return None
        elif kind <= _OPTIONAL_MILLIS:
            if value is None and kind == _OPTIONAL_MILLIS:
                continue
            kind_of = type(value)
            if kind_of is not float and kind_of is not int:
                return None
            # NaN fails both comparisons; infinity fails the upper bound. An
            # int is checked before float() sees it (a huge one would overflow).
            if not 0 <= value <= MAX_DURATION_MS:
                return None
            if kind_of is int:
                value = float(value)
        elif kind == _STATUS_FIELD:
            if value is None or value == "":
                continue
            if type(value) is not str or (value := _STATUS.get(value.lower())) is None:
                return None
        elif kind == _HTTP_STATUS:
            if value is not None and (type(value) is not int or not 100 <= value <= 599):
                return None
        elif kind == _ATTRIBUTES:
            if type(value) is not dict:
                return None
            for key in value:
                if type(key) is not str or (key and (key[0].isspace() or key[-1].isspace())):
                    return None
            attributes = value
            continue
        elif kind == _TS:
            if type(value) is not int:
                return None
            ts = value
            continue
        elif value is not None:  # a cost the record states: exact Decimal rules
            return None
        fields[name] = value
    if ts is None:
        return None
    try:
        fields["ts"] = ts if ts >= 100_000_000_000_000_000 else parse_timestamp_ns(ts)
    except ValueError:
        return None
    fields["attributes"] = {} if attributes is None else dict(attributes)
    return fields, extras


def _validated_fields(raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(fields, extras) of a record; ValueError says why it is rejected."""
    lean = _lean_fields(raw)
    if lean is not None:
        return lean
    try:
        record = OperationRecord.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(describe_error(exc)) from None
    fields = {name: getattr(record, name) for name in _RECORD_FIELDS}
    return fields, dict(record.model_extra or {})


# Enum members as plain names: reading one from its class costs a lookup per use.
_OK, _ERROR = OperationStatus.OK, OperationStatus.ERROR
_BY_RECORD, _COMPUTED, _UNPRICED = CostSource.RECORD, CostSource.COMPUTED, CostSource.UNPRICED


def build_operation(
    raw: dict[str, Any],
    *,
    prices: PriceTable,
    source: OperationSource,
    now_ns: int,
) -> NewOperation:
    """Validate and normalise one record; ValueError says why it is rejected."""
    record, extras = _validated_fields(raw)
    ts: int = record["ts"]
    if not EARLIEST_NS <= ts <= now_ns + FUTURE_SLACK_NS:
        raise ValueError("ts: must be after 2000-01-01 and at most one day ahead")
    status = record["status"]
    error_type, http_status = record["error_type"], record["http_status"]
    if status is None:
        failed = error_type is not None or (http_status or 0) >= 400
        status = _ERROR if failed else _OK
    input_tokens, output_tokens = record["input_tokens"], record["output_tokens"]
    cache_read_tokens = record["cache_read_tokens"]
    response_model, model = record["response_model"], record["model"]
    cost, cost_source, version = record["cost_usd"], _BY_RECORD, None
    if cost is None:
        priced = prices.cost(
            (response_model, model),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read_tokens,
        )
        if priced is None:
            cost_source = _UNPRICED
        else:
            cost, cost_source, version = priced.cost_usd, _COMPUTED, priced.version
    attributes, attributes_json = _attributes(record["attributes"], extras)
    # By position, in NewOperation's order: a call with 29 keywords costs about 2 µs
    # more per operation (CPython matches each keyword against the parameter names).
    # Tests hold it to a call by keyword.
    return NewOperation(
        operation_id(raw, record["operation_id"]),
        ts,
        record["service"],
        record["operation"],
        record["provider"],
        model,
        record["workspace_id"],
        record["trace_id"],
        record["span_id"],
        record["parent_span_id"],
        record["correlation_id"],
        record["conversation_id"],
        response_model,
        input_tokens,
        output_tokens,
        cache_read_tokens,
        record["reasoning_tokens"],
        record["duration_ms"],
        record["ttft_ms"],
        status,
        error_type,
        http_status,
        cost,
        cost_source,
        version,
        source,
        now_ns,
        attributes,
        attributes_json,
    )


def _attributes(attributes: dict[str, Any], extras: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The stored attributes (the record's own dict, extended) and their JSON text.

    The JSON is encoded once here, for the size rule, and the write path stores
    that same text rather than encoding the dict again.
    """
    for name, value in extras.items():
        if name not in _ENVELOPE:
            attributes.setdefault(name, value)
    if not attributes:
        return attributes, "{}"
    try:
        encoded = orjson.dumps(attributes)
    except TypeError:  # a key that is not text: the same bytes, by a slower path
        encoded = orjson.dumps(attributes, option=orjson.OPT_NON_STR_KEYS)
    if len(encoded) > ATTRIBUTES_MAX_BYTES:
        dropped = {"_dropped_bytes": len(encoded)}
        return dropped, orjson.dumps(dropped).decode()
    return attributes, encoded.decode()
