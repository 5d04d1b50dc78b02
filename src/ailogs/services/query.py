"""Mode-based queries: QuerySpec → LogQL → Loki → a shaped, cached answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import orjson

from ailogs.analysis.redaction import Redactor
from ailogs.answer_rows import entry_of_row, records_of_rows, sort_rows, tail_rows
from ailogs.cache.base import QueryCache
from ailogs.cache.keys import IMMUTABLE_TTL_S, LIVE_TTL_S, answer_key, answer_ttl_s
from ailogs.collector import collector_paused
from ailogs.domain import CacheStatus, LogRecord, Mode, QuerySpec
from ailogs.errors import LokiRateLimited, LokiTimeout, LokiUnavailable
from ailogs.logql import LogQLPlan, build_plan, selector_for
from ailogs.loki.client import LokiClient
from ailogs.loki.models import QueryResponse
from ailogs.loki.parse import parse_log_rows
from ailogs.services.cursor import tail_identities

SLOW_LINES = 10
# Loki failures for which a stale cached answer beats an error.
STALE_OK = (LokiUnavailable, LokiTimeout, LokiRateLimited)


class PatternSource(Protocol):
    """What the query path needs from the pattern library."""

    def logql_regex(self) -> str:
        """One RE2 alternation matching any pattern of the library."""
        ...


PatternDetector = Callable[[Sequence[LogRecord]], list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class QueryScope:
    """Who asks and the Loki limits that shape the request."""

    tenant: str | None = None
    ingestion_delay_s: int = 120
    loki_max_entries: int = 5000
    cache_live_ttl_s: float = LIVE_TTL_S
    cache_immutable_ttl_s: float = IMMUTABLE_TTL_S


@dataclass(frozen=True, slots=True)
class QueryAnswer:
    """A `/query` answer, serialized once.

    `body` is the JSON object of everything but `stats` and `next_cursor`. The
    cache stores it as it is and a response splices the per-call parts in, so
    neither a miss nor a hit encodes the lines twice, and a hit never decodes them.
    """

    body: bytes
    stats: dict[str, Any]
    # When truncated: the last timestamp and the identities of the lines at it.
    tail: tuple[int, tuple[str, ...]] | None = None

    def with_cache(self, status: CacheStatus) -> QueryAnswer:
        """The same answer, marked with where it came from."""
        return replace(self, stats={**self.stats, "cache": status.value})

    def render(self, next_cursor: str | None = None) -> bytes:
        """The complete JSON answer."""
        return b"".join(
            (
                memoryview(self.body)[:-1],  # no copy of megabytes of lines to drop a brace
                b',"stats":',
                orjson.dumps(self.stats),
                b',"next_cursor":',
                orjson.dumps(next_cursor),
                b"}",
            )
        )

    def to_dict(self, next_cursor: str | None = None) -> dict[str, Any]:
        """The answer as a dict, for callers that reshape it (`max_tokens`, MCP)."""
        answer: dict[str, Any] = orjson.loads(self.render(next_cursor))
        return answer

    def pack(self) -> bytes:
        """The cache payload: a line of metadata, then the body (orjson writes no newline)."""
        meta = orjson.dumps({"stats": self.stats, "tail": self.tail, "length": len(self.body)})
        return b"".join((meta, b"\n", self.body))

    @classmethod
    def unpack(cls, payload: bytes) -> QueryAnswer | None:
        """A packed answer, or None for a payload that is not one (or is cut short)."""
        meta_text, _, body = payload.partition(b"\n")
        try:
            meta = orjson.loads(meta_text)
        except orjson.JSONDecodeError:
            return None
        if (
            not isinstance(meta, dict)
            or meta.get("length") != len(body)
            or len(body) < 3
            or body[:1] != b"{"
            or body[-1:] != b"}"
            or not isinstance(meta.get("stats"), dict)
        ):
            return None
        tail = meta.get("tail")
        if tail is None:
            return cls(body, meta["stats"])
        try:
            last, identities = int(tail[0]), tuple(str(item) for item in tail[1])
        except (TypeError, ValueError, IndexError, KeyError):
            return None
        return cls(body, meta["stats"], (last, identities))


def plan_for(spec: QuerySpec, patterns: PatternSource | None) -> LogQLPlan:
    """The LogQL plan for a spec, with the pattern union for troubleshoot mode."""
    regex = (
        patterns.logql_regex() if patterns is not None and spec.mode is Mode.TROUBLESHOOT else None
    )
    return build_plan(spec, pattern_regex=regex)


async def run_query(
    spec: QuerySpec,
    *,
    loki: LokiClient,
    cache: QueryCache,
    scope: QueryScope,
    patterns: PatternSource | None = None,
    detect: PatternDetector | None = None,
    redactor: Redactor | None = None,
    now_ns: int | None = None,
) -> QueryAnswer:
    """Answer a mode-based query in DESIGN.md §4's `/query` shape.

    Lines are redacted before anything else sees them, so neither the answer nor
    the cache ever holds a masked secret. A fresh cached answer is returned as a
    hit; when Loki fails and a stale one exists, it is returned marked `stale`.
    """
    plan = plan_for(spec, patterns)
    key = answer_key(
        tenant=scope.tenant,
        logql=plan.log_query,
        start_ns=spec.window.start_ns,
        end_ns=spec.window.end_ns,
        limit=spec.limit,
        direction=spec.direction.value,
        # Answers redacted under another configuration must not be served.
        kind="query:" + ",".join(redactor.classes if redactor is not None else ()),
    )
    cached = await cache.get(key)
    hit = QueryAnswer.unpack(cached.payload) if cached is not None else None
    if cached is not None and hit is not None and not cached.stale:
        return hit.with_cache(CacheStatus.HIT)

    async def load() -> QueryAnswer:
        answer = await _ask_loki(
            spec, plan, loki=loki, scope=scope, detect=detect, redactor=redactor
        )
        now = now_ns if now_ns is not None else time.time_ns()
        ttl_s = answer_ttl_s(
            spec.window.end_ns,
            now,
            scope.ingestion_delay_s,
            live_ttl_s=scope.cache_live_ttl_s,
            immutable_ttl_s=scope.cache_immutable_ttl_s,
        )
        await cache.set(key, answer.pack(), ttl_s)
        return answer

    try:
        # Identical concurrent misses share one Loki call (single-flight).
        shared = await cache.coalesce(key, load)
    except STALE_OK:
        if hit is not None:
            cache.stats.stale_served += 1
            return hit.with_cache(CacheStatus.STALE)
        raise
    return shared.with_cache(CacheStatus.MISS)


async def _ask_loki(
    spec: QuerySpec,
    plan: LogQLPlan,
    *,
    loki: LokiClient,
    scope: QueryScope,
    detect: PatternDetector | None,
    redactor: Redactor | None,
) -> QueryAnswer:
    # Ask for one line more than the caller wants, so "truncated" is known, not guessed.
    fetch = min(spec.limit + 1, scope.loki_max_entries)
    started = time.perf_counter()
    log_call = loki.query_range_body(
        plan.log_query,
        start_ns=spec.window.start_ns,
        end_ns=spec.window.end_ns,
        limit=fetch,
        direction=spec.direction,
        tenant=scope.tenant,
    )
    metric_calls = [
        loki.query(query, time_ns=spec.window.end_ns, tenant=scope.tenant)
        for _, query in plan.quantile_queries
    ]
    body, quantiles = await asyncio.gather(log_call, asyncio.gather(*metric_calls))
    loki_ms = (time.perf_counter() - started) * 1000
    # Thousands of short-lived, acyclic objects from here to the encoded answer, and
    # no await: reference counting frees them, the collector need not scan them.
    with collector_paused():
        return _shape(spec, plan, body, quantiles, loki_ms, scope, detect, redactor)


def _shape(
    spec: QuerySpec,
    plan: LogQLPlan,
    body: bytes,
    quantiles: Sequence[QueryResponse],
    loki_ms: float,
    scope: QueryScope,
    detect: PatternDetector | None,
    redactor: Redactor | None,
) -> QueryAnswer:
    """The answer to a spec from Loki's log body and metric answers."""
    rows, log_stats = parse_log_rows(body)
    rows = sort_rows(rows, spec.direction)
    truncated = len(rows) > spec.limit or len(rows) >= scope.loki_max_entries
    rows = rows[: spec.limit]
    if redactor is not None and not redactor.body_is_clean(body):
        rows = redactor.redact_rows(rows)
    bytes_processed = log_stats.bytes_processed + sum(q.stats.bytes_processed for q in quantiles)
    entries = [row[3] for row in rows]
    analysed = spec.mode is Mode.PERFORMANCE or (
        detect is not None and spec.mode is Mode.TROUBLESHOOT
    )
    records = records_of_rows(rows) if analysed else []
    answer: dict[str, Any] = {
        "mode": spec.mode.value,
        "logql": plan.log_query,
        "window": spec.window.as_dict(),
        "entries": entries,
        "patterns": detect(records)
        if detect is not None and spec.mode is Mode.TROUBLESHOOT
        else [],
        "latency": {},
    }
    if spec.mode is Mode.PERFORMANCE:
        answer["latency"] = latency_summary(plan, quantiles, records)
        answer["metric_queries"] = [query for _, query in plan.quantile_queries]
    stats = {
        "returned": len(rows),
        "truncated": truncated,
        "cache": CacheStatus.MISS.value,
        "loki_ms": round(loki_ms, 2),
        "bytes_processed": bytes_processed,
    }
    # Cursors name lines by their entries as plain data, labels and all.
    tail = tail_identities(list(map(entry_of_row, tail_rows(rows)))) if truncated and rows else None
    return QueryAnswer(orjson.dumps(answer), stats, tail)


def latency_summary(
    plan: LogQLPlan, quantiles: Sequence[QueryResponse], records: Sequence[LogRecord]
) -> dict[str, Any]:
    """p50/p95/p99 per service from Loki's quantile_over_time, and the slowest lines."""
    services: dict[str, dict[str, float]] = {}
    for (quantile, _), response in zip(plan.quantile_queries, quantiles, strict=True):
        name = f"p{round(quantile * 100)}"
        for series in response.series:
            service = series.metric.get("service_name", "unknown")
            if series.values:
                services.setdefault(service, {})[name] = round(series.values[-1][1], 3)
    timed = [(r.field_float("duration_ms"), r) for r in records]
    slow = sorted(
        ((duration, r) for duration, r in timed if duration is not None),
        key=lambda pair: pair[0],
        reverse=True,
    )[:SLOW_LINES]
    return {
        "services": dict(sorted(services.items())),
        "slow": [{**r.to_entry(), "duration_ms": duration} for duration, r in slow],
    }


async def plan_query(
    spec: QuerySpec,
    *,
    loki: LokiClient,
    scope: QueryScope,
    patterns: PatternSource | None = None,
) -> dict[str, Any]:
    """A dry run: the LogQL that would run and Loki's index estimate, without running it."""
    plan = plan_for(spec, patterns)
    stats = await loki.index_stats(
        selector_for(spec.services),
        start_ns=spec.window.start_ns,
        end_ns=spec.window.end_ns,
        tenant=scope.tenant,
    )
    return {
        "mode": spec.mode.value,
        "dry_run": True,
        "logql": plan.log_query,
        "metric_queries": [query for _, query in plan.quantile_queries],
        "window": spec.window.as_dict(),
        "estimate": {
            "streams": stats.streams,
            "chunks": stats.chunks,
            "bytes": stats.bytes,
            "entries": stats.entries,
        },
    }
