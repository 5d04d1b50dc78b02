"""Scheduled upkeep (`ailogs maintenance`): performance baselines and retention.

Baselines come from the hourly rollups of a trailing window, so they cost a
scan of at most a few thousand rollup rows, not of raw operations. A scope with
fewer than `min_samples` operations gets no baseline (a stale one is removed):
percentiles of a handful of calls would make every later call look anomalous.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from ailogs.store import histogram
from ailogs.store.enums import Granularity
from ailogs.store.models import (
    HISTOGRAM_COLUMNS,
    AiCorrelation,
    AiOperation,
    AiPerformanceBaseline,
    AiWorkspaceUsage,
    AiWorkspaceUsageError,
    QueryAudit,
    table_of,
)

DAY_NS = 86_400 * 1_000_000_000
DURATION = "duration_ms"
ERROR_RATE = "error_rate"


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How many days each kind of row is kept."""

    raw_days: int = 30
    hourly_days: int = 90
    daily_days: int = 365


@dataclass(frozen=True, slots=True)
class MaintenanceReport:
    """What a maintenance run changed."""

    baselines_written: int
    baselines_skipped: int
    deleted: dict[str, int]


async def apply_retention(
    session: AsyncSession, policy: RetentionPolicy, now_ns: int
) -> dict[str, int]:
    """Delete rows older than the policy allows; return the count per table."""
    raw_cut = now_ns - policy.raw_days * DAY_NS
    hourly_cut = now_ns - policy.hourly_days * DAY_NS
    daily_cut = now_ns - policy.daily_days * DAY_NS
    statements: list[tuple[str, Any]] = [
        ("ai_operations", delete(AiOperation).where(AiOperation.start_time_ns < raw_cut)),
        ("ai_correlations", delete(AiCorrelation).where(AiCorrelation.last_seen_ns < raw_cut)),
        ("query_audit", delete(QueryAudit).where(QueryAudit.at_ns < hourly_cut)),
    ]
    for model in (AiWorkspaceUsage, AiWorkspaceUsageError):
        table = table_of(model)
        for granularity, cut in ((Granularity.HOUR, hourly_cut), (Granularity.DAY, daily_cut)):
            statements.append(
                (
                    f"{table.name}.{granularity.value}",
                    delete(table).where(
                        table.c.granularity == granularity, table.c.bucket_start_ns < cut
                    ),
                )
            )
    deleted: dict[str, int] = {}
    for name, statement in statements:
        result = await session.execute(statement)
        deleted[name] = int(getattr(result, "rowcount", 0) or 0)
    return deleted


async def recompute_baselines(
    session: AsyncSession, *, window_ns: int, min_samples: int, now_ns: int
) -> tuple[int, int]:
    """Rebuild duration and error-rate baselines per model and per workspace+model.

    Returns (written, skipped for too few samples).
    """
    usage = table_of(AiWorkspaceUsage)
    columns = [
        usage.c.workspace_id,
        usage.c.model,
        func.sum(usage.c.requests),
        func.sum(usage.c.errors),
        func.sum(usage.c.duration_us_sum),
        func.max(usage.c.duration_ms_max),
        *(func.sum(usage.c[name]) for name in HISTOGRAM_COLUMNS),
    ]
    rows = await session.execute(
        select(*columns)
        .where(
            usage.c.granularity == Granularity.HOUR,
            usage.c.bucket_start_ns >= now_ns - window_ns,
            usage.c.bucket_start_ns < now_ns,
        )
        .group_by(usage.c.workspace_id, usage.c.model)
    )
    scopes: dict[str, list[Any]] = defaultdict(lambda: [0, 0, 0, 0.0, histogram.empty()])
    for workspace, model, requests, errors, duration_us, max_ms, *counts in rows.all():
        for scope in (f"model={model}", f"workspace={workspace},model={model}"):
            totals = scopes[scope]
            totals[0] += int(requests)
            totals[1] += int(errors)
            totals[2] += int(duration_us)
            totals[3] = max(totals[3], float(max_ms))
            histogram.merge(totals[4], [int(c) for c in counts])
    window_s = window_ns // 1_000_000_000
    table = table_of(AiPerformanceBaseline)
    written_rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    for scope, (requests, errors, duration_us, max_ms, counts) in sorted(scopes.items()):
        if requests < min_samples:
            skipped.append(scope)
            continue
        base = {
            "scope": scope,
            "window_s": window_s,
            "sample_count": requests,
            "computed_at_ns": now_ns,
        }
        written_rows.append(
            base
            | {
                "metric": DURATION,
                "p50": histogram.percentile(counts, 0.50, max_ms),
                "p95": histogram.percentile(counts, 0.95, max_ms),
                "p99": histogram.percentile(counts, 0.99, max_ms),
                "mean": duration_us / requests / 1000,
            }
        )
        written_rows.append(
            base
            | {
                "metric": ERROR_RATE,
                "p50": None,
                "p95": None,
                "p99": None,
                "mean": errors / requests,
            }
        )
    if skipped:
        await session.execute(
            delete(table).where(table.c.scope.in_(skipped), table.c.window_s == window_s)
        )
    if written_rows:
        # Replace the scopes' previous baselines of this window wholesale.
        await session.execute(
            delete(table).where(
                table.c.scope.in_({row["scope"] for row in written_rows}),
                table.c.window_s == window_s,
            )
        )
        await session.execute(insert(table), written_rows)
    return len(written_rows) // 2, len(skipped)


async def run_maintenance(
    session: AsyncSession,
    *,
    policy: RetentionPolicy,
    baseline_window_ns: int,
    min_samples: int,
    now_ns: int,
) -> MaintenanceReport:
    """Recompute baselines, then apply retention."""
    written, skipped = await recompute_baselines(
        session, window_ns=baseline_window_ns, min_samples=min_samples, now_ns=now_ns
    )
    deleted = await apply_retention(session, policy, now_ns)
    return MaintenanceReport(baselines_written=written, baselines_skipped=skipped, deleted=deleted)
