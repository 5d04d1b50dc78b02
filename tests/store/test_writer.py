"""The idempotent write path and its rollups, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

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
from ailogs.store.operation_store import SqlOperationStore
from ailogs.store.repositories import CheckpointRepository
from ailogs.store.writer import OperationWriter, WriteResult
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


async def test_error_patterns_count_only_the_failed_operations_a_write_stored(
    store_db: Database,
) -> None:
    first = record(ts=10**18, status="error", error_type="timeout")
    await write(store_db, [first])
    again = [
        first,  # stored already: not counted again
        record(ts=10**18 + 1, status="error", error_type="timeout"),
        record(ts=10**18 + 2, status="ok", error_type="timeout"),  # stated ok: not a failure
    ]
    assert await write(store_db, again) == (2, 1)

    async with store_db.session() as session:
        patterns = (await session.scalars(select(AiErrorPattern))).all()
    assert [(p.error_type, p.count, p.last_seen_ns) for p in patterns] == [
        ("timeout", 2, 10**18 + 1)
    ]


async def test_checkpoints_round_trip(store_db: Database) -> None:
    async with store_db.session() as session:
        repo = CheckpointRepository.from_session(session)
        assert await repo.get("loki") is None
        await repo.save("loki", 5, now_ns=1)
        await repo.save("loki", 9, now_ns=2)
    async with store_db.session() as session:
        assert await CheckpointRepository.from_session(session).get("loki") == 9


ThreadTotals = tuple[int, int, int, int, Decimal, int, int]


async def recount_threads(database: Database, key: str) -> dict[str, ThreadTotals]:
    """Brute-force conversation or correlation totals from ai_operations."""
    async with database.session() as session:
        ops = (await session.scalars(select(AiOperation))).all()
    threads: dict[str, ThreadTotals] = {}
    for op in ops:
        thread_id = getattr(op, key)
        if thread_id is None:
            continue
        calls, errors, tokens_in, tokens_out, cost, first, last = threads.get(
            thread_id, (0, 0, 0, 0, Decimal(0), op.start_time_ns, op.start_time_ns)
        )
        threads[thread_id] = (
            calls + 1,
            errors + (op.status.value == "error"),
            tokens_in + op.input_tokens,
            tokens_out + op.output_tokens,
            cost + (op.cost_usd or 0),
            min(first, op.start_time_ns),
            max(last, op.start_time_ns),
        )
    return threads


async def stored_threads(
    database: Database, model: type[AiConversation] | type[AiCorrelation], key: str
) -> dict[str, ThreadTotals]:
    async with database.session() as session:
        rows = cast(
            Sequence[AiConversation | AiCorrelation], (await session.scalars(select(model))).all()
        )
    return {
        getattr(r, key): (
            r.operations,
            r.errors,
            r.input_tokens,
            r.output_tokens,
            r.cost_usd,
            r.first_seen_ns,
            r.last_seen_ns,
        )
        for r in rows
    }


async def test_conversations_and_correlations_equal_a_brute_force_recount(
    store_db: Database,
) -> None:
    batch = random_records(seed=11, count=500)
    for index, raw in enumerate(batch):
        raw["correlation_id"] = f"req-{index % 170}"  # several calls per request
    await write(store_db, batch[:300])
    await write(store_db, batch[150:])  # an overlap: nothing counts twice
    await write(store_db, batch[::4])

    assert await stored_threads(
        store_db, AiConversation, "conversation_id"
    ) == await recount_threads(store_db, "conversation_id")
    assert await stored_threads(store_db, AiCorrelation, "correlation_id") == await recount_threads(
        store_db, "correlation_id"
    )


async def test_durations_on_bucket_bounds_and_half_microseconds_roll_up_exactly(
    store_db: Database,
) -> None:
    # A duration equal to a bound counts in the bucket it closes (the `le` rule);
    # half microseconds round to even, as Python's round() does.
    durations = [0, 5, 5.0005, 100, 100.0000001, 120_000, 120_000.5, 3_600_000, 0.0025, 0.0035]
    await write(
        store_db,
        [record(seq=index, duration_ms=value) for index, value in enumerate(durations)],
    )

    assert await stored_usage(store_db) == await recount_usage(store_db)
    (hour,) = [row for key, row in (await stored_usage(store_db)).items() if key[1] == "hour"]
    assert hour["histogram"][0] == 4  # 0, 5, 0.0025, 0.0035
    assert hour["duration_us_sum"] == sum(round(value * 1000) for value in durations)


async def test_a_thread_takes_a_named_workspace_over_an_empty_one(store_db: Database) -> None:
    await write(
        store_db,
        [record(workspace_id=""), record(seq=1, workspace_id="ws-9"), record(seq=2)],
    )
    await write(store_db, [record(seq=3, workspace_id="ws-z")])

    async with store_db.session() as session:
        conversation = await session.get(AiConversation, "conv-1")
    assert conversation is not None
    # The greatest id of the first batch; later batches keep it.
    assert (conversation.workspace_id, conversation.operations) == ("ws-9", 4)


async def test_text_values_numbers_and_costs_are_stored_exactly_as_given(
    store_db: Database,
) -> None:
    # What PostgreSQL's COPY text would misread unescaped: tabs, newlines,
    # carriage returns, backslashes, and a value that reads `\N` (NULL).
    given = record(
        service="api\tv2",
        model="modèle\\N",
        conversation_id="conv\n1",
        correlation_id="\\N",
        status="error",
        error_type="rate\rlimit",
        duration_ms=123.456789012345,
        ttft_ms=1e-7,
        cost_usd="0.1234567895",  # rounds half to even at nano-dollars
        note="a\tb\\c\nd ü \\u0000 \\N",
    )
    await write(store_db, [given])

    async with store_db.session() as session:
        stored = (await session.scalars(select(AiOperation))).one()
        correlation = await session.get(AiCorrelation, "\\N")
    assert (stored.service, stored.request_model) == ("api\tv2", "modèle\\N")
    assert (stored.conversation_id, stored.correlation_id) == ("conv\n1", "\\N")
    assert (stored.error_type, stored.trace_id) == ("rate\rlimit", None)
    assert (stored.duration_ms, stored.ttft_ms) == (123.456789012345, 1e-7)
    assert stored.cost_usd == Decimal("0.123456790")
    assert stored.attributes == {"note": "a\tb\\c\nd ü \\u0000 \\N"}
    assert correlation is not None
    assert correlation.operations == 1


async def test_a_staged_batch_is_stored_like_the_operations_it_holds(store_db: Database) -> None:
    store = SqlOperationStore(store_db)
    ops = build([record(), record(seq=1), record()])  # the first and last are one operation

    staged = store.stage(ops)
    assert (len(staged.operations), staged.given) == (2, 3)
    assert await store.write(staged) == WriteResult(inserted=2, duplicates=1)
    assert await store.write(store.stage(ops)) == WriteResult(inserted=0, duplicates=3)
    assert await store.write(ops) == WriteResult(inserted=0, duplicates=3)

    async with store_db.session() as session:
        assert await session.scalar(select(func.count()).select_from(AiOperation)) == 2
        conversation = await session.get(AiConversation, "conv-1")
    assert conversation is not None
    assert conversation.operations == 2
