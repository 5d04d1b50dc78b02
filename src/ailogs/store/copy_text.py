"""Operations as COPY text: the payload the PostgreSQL write path streams into staging.

Encoding is plain Python with no connection, so the ingest worker builds a
batch's payload in its parsing thread and the write itself is only the
database's work (binary COPY encodes on the event loop, inside the write).

Text format: one line per operation, values tab-separated in `COPY_COLUMNS`
order, `\\N` for NULL. Text values have backslash, tab, newline and carriage
return escaped; numbers, enum values and the attributes' JSON (which escapes
control characters itself) need only what they contain. The cost travels as
whole nano-dollars (`cost_nanos`), which the insert turns back into NUMERIC.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal

import orjson

from ailogs.store.columns import COST_SCALE
from ailogs.store.records import OPERATION_COLUMNS, NewOperation

# The order of the values on a line (the line below is written in it): every
# operation column, the cost as `cost_nanos` and the attributes last.
COPY_COLUMNS: tuple[str, ...] = (
    "id",
    "start_time_ns",
    "service",
    "operation",
    "provider",
    "request_model",
    "workspace_id",
    "trace_id",
    "span_id",
    "parent_span_id",
    "correlation_id",
    "conversation_id",
    "response_model",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "reasoning_tokens",
    "duration_ms",
    "ttft_ms",
    "status",
    "error_type",
    "http_status",
    "cost_source",
    "price_version",
    "source",
    "ingested_at_ns",
    "cost_nanos",
    "attributes",
)
if {*COPY_COLUMNS} - {"cost_nanos"} != {*OPERATION_COLUMNS} - {"cost_usd"}:
    raise RuntimeError("NewOperation's columns changed: update COPY_COLUMNS and copy_line")

NULL = "\\N"
_NANOS_PER_USD = 10**COST_SCALE
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def escape(value: str) -> str:
    """A text value as COPY text reads it back unchanged."""
    return value.translate(_ESCAPES)


def _optional(value: str | None) -> str:
    return NULL if value is None else escape(value)


def _nanos(cost: Decimal) -> int:
    """A cost in whole nano-dollars, rounded as `quantize_cost` rounds (half to even)."""
    nanos = cost * _NANOS_PER_USD
    whole = int(nanos)
    if whole == nanos:  # priced costs are quantized already
        return whole
    return int(nanos.to_integral_value(ROUND_HALF_EVEN))


def copy_line(op: NewOperation) -> str:
    """One operation as a line of COPY text, newline included."""
    cost, ttft, http_status = op.cost_usd, op.ttft_ms, op.http_status
    trace_id, span_id, parent_span_id = op.trace_id, op.span_id, op.parent_span_id
    correlation_id, conversation_id = op.correlation_id, op.conversation_id
    response_model, error_type, price_version = op.response_model, op.error_type, op.price_version
    attributes = op.attributes_json
    if attributes is None:
        attributes = orjson.dumps(op.attributes, option=orjson.OPT_NON_STR_KEYS).decode()
    if "\\" in attributes:  # JSON's own escapes; it has no raw control characters
        attributes = attributes.replace("\\", "\\\\")
    # Text values seldom need escaping: one probe over all of them (None prints
    # as a harmless word) decides.
    texts = (
        f"{op.id}{op.service}{op.operation}{op.provider}{op.request_model}{op.workspace_id}"
        f"{trace_id}{span_id}{parent_span_id}{correlation_id}{conversation_id}"
        f"{response_model}{error_type}{price_version}"
    )
    if "\\" in texts or "\t" in texts or "\n" in texts or "\r" in texts:
        return _escaped_line(op, attributes)
    return (
        f"{op.id}\t{op.start_time_ns}\t{op.service}\t{op.operation}\t{op.provider}\t"
        f"{op.request_model}\t{op.workspace_id}\t{NULL if trace_id is None else trace_id}\t"
        f"{NULL if span_id is None else span_id}\t"
        f"{NULL if parent_span_id is None else parent_span_id}\t"
        f"{NULL if correlation_id is None else correlation_id}\t"
        f"{NULL if conversation_id is None else conversation_id}\t"
        f"{NULL if response_model is None else response_model}\t"
        f"{op.input_tokens}\t{op.output_tokens}\t{op.cache_read_tokens}\t{op.reasoning_tokens}\t"
        f"{op.duration_ms}\t{NULL if ttft is None else ttft}\t{op.status!s}\t"
        f"{NULL if error_type is None else error_type}\t"
        f"{NULL if http_status is None else http_status}\t{op.cost_source!s}\t"
        f"{NULL if price_version is None else price_version}\t{op.source!s}\t"
        f"{op.ingested_at_ns}\t{NULL if cost is None else _nanos(cost)}\t{attributes}\n"
    )


def _escaped_line(op: NewOperation, attributes: str) -> str:
    cost, ttft, http_status = op.cost_usd, op.ttft_ms, op.http_status
    return (
        f"{escape(op.id)}\t{op.start_time_ns}\t{escape(op.service)}\t{escape(op.operation)}\t"
        f"{escape(op.provider)}\t{escape(op.request_model)}\t{escape(op.workspace_id)}\t"
        f"{_optional(op.trace_id)}\t{_optional(op.span_id)}\t{_optional(op.parent_span_id)}\t"
        f"{_optional(op.correlation_id)}\t{_optional(op.conversation_id)}\t"
        f"{_optional(op.response_model)}\t"
        f"{op.input_tokens}\t{op.output_tokens}\t{op.cache_read_tokens}\t{op.reasoning_tokens}\t"
        f"{op.duration_ms}\t{NULL if ttft is None else ttft}\t{op.status!s}\t"
        f"{_optional(op.error_type)}\t{NULL if http_status is None else http_status}\t"
        f"{op.cost_source!s}\t{_optional(op.price_version)}\t{op.source!s}\t"
        f"{op.ingested_at_ns}\t{NULL if cost is None else _nanos(cost)}\t{attributes}\n"
    )


def copy_text(ops: Iterable[NewOperation]) -> bytes:
    """The COPY text (UTF-8) of operations, one line each, in `COPY_COLUMNS` order."""
    return "".join(map(copy_line, ops)).encode()
