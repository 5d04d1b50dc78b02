"""`/query` with cursors: the first page from `run_query`, later pages from the pager."""

from __future__ import annotations

import time
from collections import Counter
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from ailogs.analysis.redaction import Redactor
from ailogs.cache.base import QueryCache
from ailogs.domain import CacheStatus, LogRecord, Mode, QuerySpec
from ailogs.loki.client import LokiClient
from ailogs.services.cursor import (
    MAX_EXCLUDED,
    CursorCodec,
    CursorState,
    entry_identity,
)
from ailogs.services.pager import PageReader, Position
from ailogs.services.query import (
    PatternDetector,
    PatternSource,
    QueryAnswer,
    QueryScope,
    plan_for,
    run_query,
)


@dataclass(frozen=True, slots=True)
class QueryPage:
    """One `/query` page: a serialized first page with its cursor, or a page the pager read."""

    logql: str
    answer: QueryAnswer | None = None
    next_cursor: str | None = None
    data: dict[str, Any] | None = None

    @property
    def stats(self) -> dict[str, Any]:
        """The page's stats (`returned`, `bytes_processed`, ...)."""
        if self.answer is not None:
            return self.answer.stats
        stats: dict[str, Any] = (self.data or {}).get("stats") or {}
        return stats

    def to_bytes(self) -> bytes | None:
        """The serialized answer, when it already is (None for a pager's page)."""
        return self.answer.render(self.next_cursor) if self.answer is not None else None

    def to_dict(self) -> dict[str, Any]:
        """The answer as a dict."""
        if self.answer is not None:
            return self.answer.to_dict(self.next_cursor)
        return self.data or {}


async def query_with_cursor(
    spec: QuerySpec,
    *,
    cursor: str | None,
    codec: CursorCodec,
    loki: LokiClient,
    cache: QueryCache,
    scope: QueryScope,
    redactor: Redactor,
    patterns: PatternSource | None = None,
    detect: PatternDetector | None = None,
) -> QueryPage:
    """Answer `/query`; a truncated answer carries `next_cursor`, and a cursor resumes it."""
    logql = plan_for(spec, patterns).log_query
    if cursor is not None:
        state = codec.decode(cursor, tenant=scope.tenant, logql=logql, direction=spec.direction)
        page = await _page(spec, state, logql, loki=loki, scope=scope, detect=detect,
                           redactor=redactor, codec=codec)  # fmt: skip
        return QueryPage(logql, data=page)
    answer = await run_query(
        spec,
        loki=loki,
        cache=cache,
        scope=scope,
        patterns=patterns,
        detect=detect,
        redactor=redactor,
    )
    if answer.tail is None:
        return QueryPage(logql, answer)
    last, seen = answer.tail
    if len(seen) <= MAX_EXCLUDED:
        # Keep the page as Loki gave it; the cursor names the lines already returned
        # at its last timestamp, so the next page skips exactly those.
        state = CursorState(spec.window, Position(last, 0), seen)
        return QueryPage(
            logql,
            answer,
            codec.encode(state, tenant=scope.tenant, logql=logql, direction=spec.direction),
        )
    # Too many lines at one nanosecond to name: re-read the page in the pager's order.
    state = CursorState(spec.window, _start(spec))
    page = await _page(spec, state, logql, loki=loki, scope=scope, detect=detect,
                       redactor=redactor, codec=codec, base=answer.to_dict())  # fmt: skip
    return QueryPage(logql, data=page)


def _start(spec: QuerySpec) -> Position:
    window = spec.window
    return Position(window.start_ns if spec.direction.value == "forward" else window.end_ns - 1)


async def _page(
    spec: QuerySpec,
    state: CursorState,
    logql: str,
    *,
    loki: LokiClient,
    scope: QueryScope,
    detect: PatternDetector | None,
    redactor: Redactor,
    codec: CursorCodec,
    base: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One page of `spec.limit` lines from a position, read loss-free."""
    started = time.perf_counter()
    reader = PageReader(
        loki=loki,
        query=logql,
        window=state.window,
        direction=spec.direction,
        tenant=scope.tenant,
        page_size=min(spec.limit + 1, scope.loki_max_entries),
        max_entries=scope.loki_max_entries,
    )
    boundary = state.position.timestamp_ns
    # A multiset: lines that differ only by a masked secret share an identity, and
    # each one the first page returned hides exactly one line here, not all of them.
    exclude = Counter(state.exclude)
    to_skip = state.position.skip
    records: list[LogRecord] = []
    more = False
    async with aclosing(reader.read(Position(boundary, 0))) as batches:
        async for batch in batches:
            for record in batch:
                if record.timestamp_ns == boundary:
                    # The first page named its lines as it returned them: redacted.
                    shown = redactor.redact_record(record)
                    if exclude:
                        identity = entry_identity(shown.to_entry())
                        if exclude[identity]:
                            exclude[identity] -= 1
                            continue
                    if to_skip:
                        to_skip -= 1
                        continue
                if len(records) == spec.limit:
                    more = True
                    break
                records.append(record)
            if more:
                break
    next_cursor = None
    if more:
        last = records[-1].timestamp_ns
        count = sum(1 for record in records if record.timestamp_ns == last)
        if last == boundary:
            following = CursorState(
                state.window, Position(boundary, state.position.skip + count), state.exclude
            )
        else:
            following = CursorState(state.window, Position(last, count))
        next_cursor = codec.encode(
            following, tenant=scope.tenant, logql=logql, direction=spec.direction
        )
    records = redactor.redact_records(records)
    answer: dict[str, Any] = {
        "mode": spec.mode.value,
        "logql": logql,
        "window": state.window.as_dict(),
        "patterns": detect(records)
        if detect is not None and spec.mode is Mode.TROUBLESHOOT
        else [],
        "latency": {},
    }
    if base is not None:
        answer.update({k: v for k, v in base.items() if k not in ("entries", "stats")})
    answer["entries"] = [record.to_entry() for record in records]
    answer["stats"] = {
        "returned": len(records),
        "truncated": more,
        "cache": CacheStatus.BYPASS.value,
        "loki_ms": round((time.perf_counter() - started) * 1000, 2),
        "bytes_processed": reader.stats.bytes_processed,
    }
    answer["next_cursor"] = next_cursor
    return answer
