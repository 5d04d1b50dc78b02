"""/analyze and /correlate: read whole windows from Loki, run the pure engine over them."""

from __future__ import annotations

import asyncio
import time
from contextlib import aclosing
from dataclasses import replace
from typing import Any

from ailogs.analysis.correlation import correlate_request
from ailogs.analysis.engine import analyze_records
from ailogs.analysis.patterns import PatternLibrary
from ailogs.analysis.redaction import Redactor
from ailogs.collector import collector_paused
from ailogs.domain import Direction, LogRecord, QuerySpec, TimeWindow
from ailogs.errors import CorrelationNotFound
from ailogs.logql import all_lines_query
from ailogs.loki.client import LokiClient
from ailogs.services.pager import PageReader
from ailogs.services.query import QueryScope

DEFAULT_MAX_LINES = 100_000


async def read_window(
    query: str,
    window: TimeWindow,
    *,
    loki: LokiClient,
    scope: QueryScope,
    max_lines: int,
    redactor: Redactor | None = None,
) -> tuple[list[LogRecord], bool]:
    """Every line of `query` in `window`, oldest first, up to `max_lines` (and whether cut)."""
    reader = PageReader(
        loki=loki,
        query=query,
        window=window,
        direction=Direction.FORWARD,
        tenant=scope.tenant,
        page_size=scope.loki_max_entries,
        max_entries=scope.loki_max_entries,
    )
    records: list[LogRecord] = []
    async with aclosing(reader.read()) as pages:
        async for page in pages:
            # Redacted before analysis: every example line an answer quotes is masked.
            records.extend(redactor.redact_records(page) if redactor is not None else page)
            if len(records) >= max_lines:
                return records[:max_lines], True
    return records, False


async def analyze_window(
    spec: QuerySpec,
    *,
    loki: LokiClient,
    scope: QueryScope,
    library: PatternLibrary,
    baseline: TimeWindow | None = None,
    max_lines: int = DEFAULT_MAX_LINES,
    redactor: Redactor | None = None,
) -> dict[str, Any]:
    """Patterns, templates, anomalies and suspects of a window against its baseline."""
    baseline = baseline or spec.window.preceding()
    query = all_lines_query(spec)
    with collector_paused():
        started = time.perf_counter()
        (current, cut), (before, before_cut) = await asyncio.gather(
            read_window(
                query, spec.window, loki=loki, scope=scope, max_lines=max_lines, redactor=redactor
            ),
            read_window(
                query, baseline, loki=loki, scope=scope, max_lines=max_lines, redactor=redactor
            ),
        )
        loki_ms = (time.perf_counter() - started) * 1000
        # The engine is CPU-bound: keep the event loop free for other requests.
        report = await asyncio.to_thread(
            analyze_records,
            current,
            before,
            library=library,
            current_window=spec.window,
            baseline_window=baseline,
        )
        answer: dict[str, Any] = report.to_dict()
    answer.update(
        logql=query,
        window=spec.window.as_dict(),
        baseline=baseline.as_dict(),
        stats={
            "lines": len(current),
            "baseline_lines": len(before),
            "truncated": cut or before_cut,
            "loki_ms": round(loki_ms, 2),
        },
    )
    return answer


async def correlate(
    spec: QuerySpec,
    *,
    loki: LokiClient,
    scope: QueryScope,
    library: PatternLibrary,
    baseline: TimeWindow | None = None,
    max_lines: int = DEFAULT_MAX_LINES,
    redactor: Redactor | None = None,
) -> dict[str, Any]:
    """The cross-service graph of one request, or of the whole window against its baseline."""
    if spec.correlation_id is None:
        answer = await analyze_window(
            spec, loki=loki, scope=scope, library=library, baseline=baseline,
            max_lines=max_lines, redactor=redactor,
        )  # fmt: skip
        correlation: dict[str, Any] = answer["correlation"]
        correlation.update(window=answer["window"], baseline=answer["baseline"])
        correlation["stats"] = answer["stats"]
        return correlation
    # A request crosses services: never narrow it to the ones named.
    request_spec = replace(spec, services=(), search=None)
    query = all_lines_query(request_spec)
    records, cut = await read_window(
        query, spec.window, loki=loki, scope=scope, max_lines=max_lines, redactor=redactor
    )
    if not records:
        raise CorrelationNotFound(
            f"no line carries correlation_id {spec.correlation_id!r} in the window"
        )
    result = await asyncio.to_thread(
        correlate_request, records, correlation_id=spec.correlation_id, library=library
    )
    answer = result.to_dict()
    answer.update(
        logql=query, window=spec.window.as_dict(), stats={"lines": len(records), "truncated": cut}
    )
    return answer


def pattern_catalogue(library: PatternLibrary) -> list[dict[str, Any]]:
    """The pattern library as the API lists it."""
    return [pattern.to_dict() for pattern in library]
