"""Workspace summaries agree exactly with a brute-force recount of ai_operations."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from ailogs.domain import TimeWindow
from ailogs.errors import WorkspaceNotFound
from ailogs.services.operations import align_to_hours, workspace_summary
from ailogs.store import histogram
from ailogs.store.database import Database
from ailogs.store.enums import CostSource, OperationStatus
from ailogs.store.maintenance import RetentionPolicy, run_maintenance
from ailogs.store.models import AiOperation, AiPerformanceBaseline
from ailogs.store.records import DAY_NS, HOUR_NS
from ailogs.store.repositories import UsageRepository
from ailogs.store.writer import OperationWriter
from tests.store.factories import T0, build, random_records


async def store(database: Database, records: list[dict[str, Any]]) -> None:
    async with database.session() as session:
        await OperationWriter.from_session(session).write(build(records))


async def summary(database: Database, workspace: str, window: TimeWindow) -> dict[str, Any]:
    async with database.session() as session:
        return await workspace_summary(
            workspace, window, usage=UsageRepository.from_session(session)
        )


def recount(ops: list[AiOperation], workspace: str, window: TimeWindow) -> dict[str, Any]:
    """The summary's totals and by_model computed from raw rows, independently of rollups."""
    window = align_to_hours(window)
    chosen = [
        op
        for op in ops
        if op.workspace_id == workspace and window.start_ns <= op.start_time_ns < window.end_ns
    ]
    models: dict[str, list[AiOperation]] = {}
    for op in chosen:
        models.setdefault(op.request_model, []).append(op)

    def measures(group: list[AiOperation]) -> dict[str, Any]:
        counts = histogram.empty()
        for op in group:
            counts[histogram.bucket_index(op.duration_ms)] += 1
        top = max((op.duration_ms for op in group), default=0.0)
        requests = len(group)
        errors = sum(op.status == OperationStatus.ERROR for op in group)
        return {
            "requests": requests,
            "input_tokens": sum(op.input_tokens for op in group),
            "output_tokens": sum(op.output_tokens for op in group),
            "cost_usd": float(sum((op.cost_usd or Decimal(0) for op in group), Decimal(0))),
            "unpriced": sum(op.cost_source == CostSource.UNPRICED for op in group),
            "errors": errors,
            "error_rate": round(errors / requests, 6) if requests else 0.0,
            "p50_ms": histogram.percentile(counts, 0.50, top),
            "p95_ms": histogram.percentile(counts, 0.95, top),
        }

    return {
        "totals": measures(chosen),
        "by_model": {model: measures(group) for model, group in models.items()},
    }


def comparable(answer: dict[str, Any]) -> dict[str, Any]:
    keys: tuple[str, ...] = ("requests", "input_tokens", "output_tokens", "cost_usd")
    keys += ("unpriced", "errors", "error_rate", "p50_ms", "p95_ms")
    return {
        "totals": {k: answer["totals"][k] for k in keys},
        "by_model": {m["model"]: {k: m[k] for k in keys} for m in answer["by_model"]},
    }


async def raw_operations(database: Database) -> list[AiOperation]:
    async with database.session() as session:
        return list((await session.scalars(select(AiOperation))).all())


@pytest.mark.parametrize("seed", [1, 2])
async def test_summary_equals_recount_for_random_batches_and_windows(
    store_db: Database, seed: int
) -> None:
    records = random_records(seed=seed, count=800, days=5)
    rng = random.Random(seed)
    rng.shuffle(records)
    for start in range(0, len(records), 170):  # arbitrary batch boundaries, with repeats
        await store(store_db, records[start : start + 200])
    ops = await raw_operations(store_db)

    windows = [TimeWindow(T0 - DAY_NS, T0 + 6 * DAY_NS)]  # everything
    for _ in range(6):  # ragged windows: hourly edges around daily middles
        start = T0 + rng.randrange(4 * DAY_NS)
        windows.append(TimeWindow(start, start + rng.randrange(HOUR_NS, 3 * DAY_NS)))
    for window in windows:
        for workspace in ("ws-a", "ws-b"):
            answer = await summary(store_db, workspace, window)
            assert comparable(answer) == recount(ops, workspace, window)


async def test_trend_compares_with_the_previous_window(store_db: Database) -> None:
    records = random_records(seed=3, count=300, days=2)
    await store(store_db, records)
    ops = await raw_operations(store_db)
    window = TimeWindow(T0 + DAY_NS, T0 + 2 * DAY_NS)

    answer = await summary(store_db, "ws-a", window)

    previous = recount(ops, "ws-a", window.preceding())["totals"]
    assert {k: answer["trend"]["previous"][k] for k in previous} == previous


async def test_an_unknown_workspace_is_not_found(store_db: Database) -> None:
    with pytest.raises(WorkspaceNotFound):
        await summary(store_db, "nobody", TimeWindow(T0, T0 + DAY_NS))


async def test_maintenance_guards_baselines_and_applies_retention(store_db: Database) -> None:
    await store(store_db, random_records(seed=4, count=400, days=2))
    now = T0 + 2 * DAY_NS
    async with store_db.session() as session:
        report = await run_maintenance(
            session,
            policy=RetentionPolicy(raw_days=1, hourly_days=90, daily_days=365),
            baseline_window_ns=7 * DAY_NS,
            min_samples=30,
            now_ns=now,
        )
        baselines = (await session.scalars(select(AiPerformanceBaseline))).all()
    ops = await raw_operations(store_db)

    assert report.baselines_written > 0
    assert report.baselines_skipped > 0  # workspace+model scopes with < 30 calls
    assert all(b.sample_count >= 30 for b in baselines)
    assert report.deleted["ai_operations"] > 0
    assert all(op.start_time_ns >= now - DAY_NS for op in ops)
