"""The idempotent write path and its rollups, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from ailogs.store.database import Database
from ailogs.store.models import (
    HISTOGRAM_COLUMNS,
    AiConversation,
    AiCorrelation,
    AiErrorPattern,
    AiOperation,
    AiWorkspaceUsage,
)
from ailogs.store.repositories import CheckpointRepository
from ailogs.store.writer import OperationWriter
from tests.store.factories import build, random_records, record, recount_usage


async def write(database: Database, records: list[dict[str, Any]]) -> tuple[int, int]:
    async with database.session() as session:
        result = await OperationWriter.from_session(session).write(build(records))
    return result.inserted, result.duplicates


async def stored_usage(database: Database) -> dict[tuple[Any, ...], dict[str, Any]]:
    async with database.session() as session:
        rows = (await session.scalars(select(AiWorkspaceUsage))).all()
    return {
        (
            r.workspace_id,
            r.granularity.value,
            r.bucket_start_ns,
            r.provider,
            r.model,
            r.operation,
        ): {
            "requests": r.requests,
            "errors": r.errors,
            "input_tokens": r.input_tokens,
            "output_tokens": r.output_tokens,
            "cost_usd": r.cost_usd,
            "unpriced": r.unpriced,
            "duration_us_sum": r.duration_us_sum,
            "duration_ms_max": r.duration_ms_max,
            "histogram": [getattr(r, name) for name in HISTOGRAM_COLUMNS],
        }
        for r in rows
    }


async def test_the_same_records_are_stored_once(store_db: Database) -> None:
    records = [record(), record(ts=record()["ts"] + 1)]

    assert await write(store_db, records) == (2, 0)
    assert await write(store_db, records) == (0, 2)
    assert await write(store_db, [*records, record(model="gpt-4o-mini")]) == (1, 2)

    async with store_db.session() as session:
        assert await session.scalar(select(func.count()).select_from(AiOperation)) == 3
        conversation = await session.get(AiConversation, "conv-1")
    assert conversation is not None
    assert conversation.operations == 3
    assert conversation.input_tokens == 3000


async def test_cost_is_exact_and_kept_from_the_record(store_db: Database) -> None:
    await write(store_db, [record(cost_usd="0.123456789"), record(seq=1, model="x")])
    await write(store_db, [record(seq=2, input_tokens=1_000_000, output_tokens=0)])

    async with store_db.session() as session:
        costs = sorted(
            (op.cost_source.value, op.cost_usd)
            for op in (await session.scalars(select(AiOperation))).all()
        )
        conversation = await session.get(AiConversation, "conv-1")
    assert costs == [
        ("computed", Decimal("2.5")),
        ("record", Decimal("0.123456789")),
        ("unpriced", None),
    ]
    assert conversation is not None
    assert conversation.cost_usd == Decimal("2.623456789")


async def test_rollups_equal_a_brute_force_recount(store_db: Database) -> None:
    batch = random_records(seed=7, count=600)
    # Overlapping batches, as re-reads and retries produce them.
    await write(store_db, batch[:400])
    await write(store_db, batch[200:])
    await write(store_db, batch[::3])

    assert await stored_usage(store_db) == await recount_usage(store_db)


async def test_threads_and_error_patterns_follow_the_operations(store_db: Database) -> None:
    await write(
        store_db,
        [
            record(ts=10**18, correlation_id="req-9", duration_ms=100),
            record(ts=10**18 + 5, correlation_id="req-9", status="error", error_type="rate_limit"),
            record(ts=10**18 - 5, correlation_id="req-9", status=None, http_status=429),
        ],
    )
    async with store_db.session() as session:
        correlation = await session.get(AiCorrelation, "req-9")
        patterns = (await session.scalars(select(AiErrorPattern))).all()
    assert correlation is not None
    assert (correlation.operations, correlation.errors) == (3, 2)
    assert (correlation.first_seen_ns, correlation.last_seen_ns) == (10**18 - 5, 10**18 + 5)
    assert sorted((p.category, p.error_type, p.count) for p in patterns) == [
        ("ai.rate_limit", "rate_limit", 1),
        ("ai.rate_limit", "unknown", 1),
    ]


async def test_checkpoints_round_trip(store_db: Database) -> None:
    async with store_db.session() as session:
        repo = CheckpointRepository.from_session(session)
        assert await repo.get("loki") is None
        await repo.save("loki", 5, now_ns=1)
        await repo.save("loki", 9, now_ns=2)
    async with store_db.session() as session:
        assert await CheckpointRepository.from_session(session).get("loki") == 9
