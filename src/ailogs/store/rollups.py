"""Rollups kept current as operations arrive: usage buckets, conversations,
correlations and error patterns.

A batch of newly inserted operations is first aggregated in memory (one row per
key, keys sorted so concurrent writers lock rows in the same order), then
upserted with additive `ON CONFLICT DO UPDATE SET x = x + excluded.x` (see bulk.py).
Only operations the INSERT actually created reach this module, so re-ingest
never double-counts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from operator import attrgetter
from typing import Any

from sqlalchemy import Table

from ailogs.store import histogram
from ailogs.store.bulk import Merge, Upsert
from ailogs.store.enums import CostSource, Granularity, OperationStatus
from ailogs.store.models import (
    HISTOGRAM_COLUMNS,
    AiConversation,
    AiCorrelation,
    AiErrorPattern,
    AiWorkspaceUsage,
    AiWorkspaceUsageError,
    table_of,
)
from ailogs.store.records import DAY_NS, HOUR_NS, NewOperation

EXAMPLE_CHARS = 500

UsageKey = tuple[str, Granularity, int, str, str, str]


@dataclass(slots=True)
class UsageTotals:
    """Additive measures of one usage bucket."""

    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    unpriced: int = 0
    duration_us_sum: int = 0
    duration_ms_max: float = 0.0
    histogram: list[int] = field(default_factory=histogram.empty)

    def add(self, op: NewOperation) -> None:
        """Count one operation in."""
        self.requests += 1
        self.errors += op.is_error
        self.input_tokens += op.input_tokens
        self.output_tokens += op.output_tokens
        self.cache_read_tokens += op.cache_read_tokens
        self.reasoning_tokens += op.reasoning_tokens
        if op.cost_usd is not None:
            self.cost_usd += op.cost_usd
        self.unpriced += op.cost_source is CostSource.UNPRICED
        self.duration_us_sum += op.duration_us
        self.duration_ms_max = max(self.duration_ms_max, op.duration_ms)
        self.histogram[histogram.bucket_index(op.duration_ms)] += 1

    def merge(self, other: UsageTotals) -> None:
        """Add another bucket's measures into this one."""
        self.requests += other.requests
        self.errors += other.errors
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.reasoning_tokens += other.reasoning_tokens
        self.cost_usd += other.cost_usd
        self.unpriced += other.unpriced
        self.duration_us_sum += other.duration_us_sum
        self.duration_ms_max = max(self.duration_ms_max, other.duration_ms_max)
        histogram.merge(self.histogram, other.histogram)

    def values(self) -> dict[str, Any]:
        """Column values of this bucket."""
        row: dict[str, Any] = {
            "requests": self.requests,
            "errors": self.errors,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cost_usd": self.cost_usd,
            "unpriced": self.unpriced,
            "duration_us_sum": self.duration_us_sum,
            "duration_ms_max": self.duration_ms_max,
        }
        row.update(zip(HISTOGRAM_COLUMNS, self.histogram, strict=True))
        return row


def usage_key(op: NewOperation, granularity: Granularity) -> UsageKey:
    """The bucket an operation counts in."""
    width = HOUR_NS if granularity is Granularity.HOUR else DAY_NS
    bucket = op.start_time_ns - op.start_time_ns % width
    return (op.workspace_id, granularity, bucket, op.provider, op.request_model, op.operation)


def aggregate_usage(ops: Iterable[NewOperation]) -> dict[UsageKey, UsageTotals]:
    """Hourly and daily usage buckets of a batch (days are merged from hours)."""
    hours: dict[UsageKey, UsageTotals] = {}
    for op in ops:
        key = usage_key(op, Granularity.HOUR)
        totals = hours.get(key)
        if totals is None:
            totals = hours[key] = UsageTotals()
        totals.add(op)
    days: dict[UsageKey, UsageTotals] = {}
    for (workspace, _, bucket, provider, model, operation), totals in hours.items():
        key = (workspace, Granularity.DAY, bucket - bucket % DAY_NS, provider, model, operation)
        day = days.get(key)
        if day is None:
            day = days[key] = UsageTotals()
        day.merge(totals)
    return hours | days


def error_category(error_type: str, http_status: int | None) -> str:
    """A pattern-library category for an AI error class (DESIGN.md §4 ids)."""
    kind = error_type.lower()
    if "rate" in kind or http_status == 429:
        return "ai.rate_limit"
    if "timeout" in kind or http_status in (408, 504):
        return "ai.model_timeout"
    if "token" in kind or "context" in kind or "length" in kind:
        return "ai.token_limit"
    if "content" in kind or "filter" in kind or "safety" in kind:
        return "ai.content_filter"
    if "auth" in kind or http_status in (401, 403):
        return "security.auth_failure"
    if http_status is not None and http_status >= 500:
        return "infrastructure.service_unavailable"
    return "ai.error"


def error_fingerprint(provider: str, model: str, error_type: str) -> str:
    """Stable id of an error pattern."""
    digest = hashlib.blake2b(f"{provider}\0{model}\0{error_type}".encode(), digest_size=16)
    return digest.hexdigest()


_USAGE_KEYS = ("workspace_id", "granularity", "bucket_start_ns", "provider", "model", "operation")


def usage_upserts(ops: Sequence[NewOperation]) -> list[Upsert]:
    """Hourly and daily usage, and error kinds, of a batch of new operations."""
    buckets = aggregate_usage(ops)
    if not buckets:
        return []
    rows = [
        dict(zip(_USAGE_KEYS, key, strict=True)) | totals.values()
        for key, totals in sorted(buckets.items(), key=lambda item: item[0])
    ]
    merge = {name: Merge.ADD for name in rows[0] if name not in _USAGE_KEYS}
    merge["duration_ms_max"] = Merge.MAX
    upserts = [Upsert(table_of(AiWorkspaceUsage), _USAGE_KEYS, rows, merge)]
    errors: dict[tuple[Any, ...], int] = {}
    for op in ops:
        if op.is_error:
            for granularity in (Granularity.HOUR, Granularity.DAY):
                key = (*usage_key(op, granularity), op.error_type or "unknown")
                errors[key] = errors.get(key, 0) + 1
    if errors:
        names = (*_USAGE_KEYS, "error_type")
        error_rows = [
            dict(zip(names, key, strict=True)) | {"count": count}
            for key, count in sorted(errors.items())
        ]
        upserts.append(
            Upsert(table_of(AiWorkspaceUsageError), names, error_rows, {"count": Merge.ADD})
        )
    return upserts


_THREAD_SUMS = ("operations", "errors", "input_tokens", "output_tokens", "cost_usd")


def _thread_rows(
    ops: Sequence[NewOperation], id_of: Callable[[NewOperation], str | None], key: str
) -> list[dict[str, Any]]:
    """One row of running totals per thread id, in id order (the upsert's lock order).

    Rows are updated in place (no intermediate objects): with one correlation
    per call this runs once per operation on the ingest hot path.
    """
    threads: dict[str, dict[str, Any]] = {}
    error = OperationStatus.ERROR
    for op in ops:
        thread_id = id_of(op)
        if thread_id is None:
            continue
        start = op.start_time_ns
        cost = op.cost_usd
        row = threads.get(thread_id)
        if row is None:
            threads[thread_id] = {
                key: thread_id,
                "workspace_id": op.workspace_id,
                "first_seen_ns": start,
                "last_seen_ns": start,
                "operations": 1,
                "errors": int(op.status is error),
                "input_tokens": op.input_tokens,
                "output_tokens": op.output_tokens,
                "cost_usd": Decimal(0) if cost is None else Decimal(0) + cost,
                "duration_ms_sum": 0.0 + op.duration_ms,
            }
            continue
        row["operations"] += 1
        if op.workspace_id > row["workspace_id"]:
            # A thread's workspace is set once; an empty id loses to a named one.
            row["workspace_id"] = op.workspace_id
        row["errors"] += op.status is error
        row["input_tokens"] += op.input_tokens
        row["output_tokens"] += op.output_tokens
        if cost is not None:
            row["cost_usd"] += cost
        row["duration_ms_sum"] += op.duration_ms
        if start < row["first_seen_ns"]:
            row["first_seen_ns"] = start
        elif start > row["last_seen_ns"]:
            row["last_seen_ns"] = start
    return [threads[thread_id] for thread_id in sorted(threads)]


def _thread_upsert(
    table: Table, key: str, rows: list[dict[str, Any]], *, durations: bool
) -> Upsert:
    merge = dict.fromkeys(_THREAD_SUMS, Merge.ADD)
    if durations:
        merge["duration_ms_sum"] = Merge.ADD
    else:
        for row in rows:
            del row["duration_ms_sum"]
    merge.update(first_seen_ns=Merge.MIN, last_seen_ns=Merge.MAX, workspace_id=Merge.KEEP)
    return Upsert(table, (key,), rows, merge)


def thread_upserts(ops: Sequence[NewOperation]) -> list[Upsert]:
    """`ai_conversations` and `ai_correlations` totals of a batch of new operations."""
    upserts = []
    conversations = _thread_rows(ops, attrgetter("conversation_id"), "conversation_id")
    if conversations:
        upserts.append(
            _thread_upsert(
                table_of(AiConversation), "conversation_id", conversations, durations=False
            )
        )
    correlations = _thread_rows(ops, attrgetter("correlation_id"), "correlation_id")
    if correlations:
        upserts.append(
            _thread_upsert(table_of(AiCorrelation), "correlation_id", correlations, durations=True)
        )
    return upserts


def error_pattern_upserts(ops: Sequence[NewOperation]) -> list[Upsert]:
    """`ai_error_patterns` counts of a batch of new operations (the first example is kept)."""
    patterns: dict[str, dict[str, Any]] = {}
    for op in ops:
        if not op.is_error:
            continue
        error_type = op.error_type or "unknown"
        fingerprint = error_fingerprint(op.provider, op.request_model, error_type)
        pattern = patterns.get(fingerprint)
        if pattern is None:
            message = op.attributes.get("error_message") or op.attributes.get("msg") or ""
            patterns[fingerprint] = {
                "fingerprint": fingerprint,
                "category": error_category(error_type, op.http_status),
                "error_type": error_type,
                "provider": op.provider,
                "model": op.request_model,
                "http_status": op.http_status,
                "count": 1,
                "first_seen_ns": op.start_time_ns,
                "last_seen_ns": op.start_time_ns,
                "example": str(message)[:EXAMPLE_CHARS],
            }
            continue
        pattern["count"] += 1
        pattern["first_seen_ns"] = min(pattern["first_seen_ns"], op.start_time_ns)
        pattern["last_seen_ns"] = max(pattern["last_seen_ns"], op.start_time_ns)
    if not patterns:
        return []
    merge = dict.fromkeys(("category", "error_type", "provider", "model"), Merge.KEEP)
    merge.update(
        http_status=Merge.KEEP,
        example=Merge.KEEP,
        count=Merge.ADD,
        first_seen_ns=Merge.MIN,
        last_seen_ns=Merge.MAX,
    )
    rows = [patterns[key] for key in sorted(patterns)]
    return [Upsert(table_of(AiErrorPattern), ("fingerprint",), rows, merge)]


def rollup_upserts(ops: Sequence[NewOperation]) -> list[Upsert]:
    """Every rollup change a batch of newly inserted operations makes."""
    return [*usage_upserts(ops), *thread_upserts(ops), *error_pattern_upserts(ops)]
