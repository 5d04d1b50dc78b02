"""Operations store bars, measured on the real PostgreSQL (127.0.0.1:5432, database `test`).

    make bench                                   # all benchmarks, small defaults
    .venv/bin/pytest benchmarks/test_store_bench.py -q -s \
        -o addopts="" -p no:cacheprovider        # just these
    AILOGS_BENCH_INGEST_OPS=200000 AILOGS_BENCH_SUMMARY_OPS=1000000 \
        .venv/bin/pytest benchmarks/test_store_bench.py -q -s   # the full-size figures

Bars: ingest >= 20,000 operations/s through the worker path; the 30-day
workspace summary answers in < 150 ms at p50 from the rollups; the summary
equals a brute-force recount of ai_operations. Each run uses its own schema.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import secrets
import statistics
import time
from bisect import bisect_left
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
import pytest
from sqlalchemy import select, text

from ailogs.collector import tune_for_service
from ailogs.domain import LogRecord, TimeWindow, make_record
from ailogs.services.ingest_worker import IngestWorker, WorkerConfig
from ailogs.services.operations import align_to_hours, workspace_summary
from ailogs.services.pricing import PriceTable, find_prices
from ailogs.store import histogram, migrate
from ailogs.store.database import Database
from ailogs.store.enums import CostSource, OperationSource, OperationStatus
from ailogs.store.models import AiOperation
from ailogs.store.operation_store import SqlOperationStore
from ailogs.store.records import DAY_NS, NewOperation
from ailogs.store.repositories import UsageRepository
from ailogs.store.writer import OperationWriter

PG_URL = os.environ.get("AILOGS_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
INGEST_OPS = int(os.environ.get("AILOGS_BENCH_INGEST_OPS", "60000"))
SUMMARY_OPS = int(os.environ.get("AILOGS_BENCH_SUMMARY_OPS", "200000"))
S = 1_000_000_000
END = 1_763_719_200 * S  # 2025-11-21T10:00:00Z
MODELS = (
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini"),
    ("anthropic", "claude-3-5-sonnet-20241022"),
    ("anthropic", "claude-3-5-haiku-20241022"),
    ("google", "gemini-1.5-pro-002"),
)


def report(line: str) -> None:
    """Print a figure past pytest's capture (benchmarks are read by people)."""
    os.write(1, f"\n[store bench] {line}\n".encode())


class MemoryLines:
    """The worker's log source, served from memory (what Loki would answer).

    A window is found by bisection, as Loki finds it by its time index: a scan
    of every line per window would cost the benchmark O(lines x windows) and
    be counted as the worker's time.
    """

    def __init__(self, records: list[LogRecord]) -> None:
        self.records = sorted(records, key=lambda r: r.timestamp_ns)
        self.stamps = [r.timestamp_ns for r in self.records]

    async def fetch(self, window: TimeWindow) -> list[LogRecord]:
        first = bisect_left(self.stamps, window.start_ns)
        return self.records[first : bisect_left(self.stamps, window.end_ns, lo=first)]


def loki_lines(count: int, start_ns: int, span_ns: int) -> list[LogRecord]:
    rng = random.Random(1)
    records = []
    for index in range(count):
        provider, model = rng.choice(MODELS)
        at = start_ns + rng.randrange(span_ns)
        body = {
            "ts": at,
            "level": "info",
            "service": "api",
            "event": "ai.operation",
            "msg": "llm call",
            "workspace_id": f"ws-{rng.randrange(20)}",
            "conversation_id": f"conv-{rng.randrange(5000)}",
            "correlation_id": f"req-{index}",
            "operation": "chat",
            "provider": provider,
            "model": model,
            "input_tokens": rng.randrange(50, 4000),
            "output_tokens": rng.randrange(10, 1500),
            "duration_ms": round(rng.lognormvariate(6.5, 0.8), 3),
            "status": "ok" if rng.random() > 0.03 else "error",
        }
        records.append(make_record(at, orjson.dumps(body).decode(), {"service_name": "api"}))
    return records


def synthetic_operations(count: int, workspace: str, days: int) -> Iterator[NewOperation]:
    """Operations spread evenly over `days`, in time order (as ingest sees them)."""
    rng = random.Random(2)
    prices = PriceTable.load(find_prices())
    step = days * DAY_NS // count
    start = END - days * DAY_NS
    for index in range(count):
        provider, model = rng.choice(MODELS)
        input_tokens, output_tokens = rng.randrange(50, 4000), rng.randrange(10, 1500)
        priced = prices.cost([model], input_tokens=input_tokens, output_tokens=output_tokens)
        failed = rng.random() < 0.03
        yield NewOperation(
            id=hashlib.blake2b(f"{workspace}/{index}".encode(), digest_size=16).hexdigest(),
            start_time_ns=start + index * step + rng.randrange(step),
            service="api",
            operation="chat",
            provider=provider,
            request_model=model,
            workspace_id=workspace,
            conversation_id=f"conv-{index // 8}",
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            duration_ms=round(rng.lognormvariate(6.5, 0.8), 3),
            status=OperationStatus.ERROR if failed else OperationStatus.OK,
            error_type="rate_limit" if failed else None,
            cost_usd=priced.cost_usd if priced else None,
            cost_source=CostSource.COMPUTED if priced else CostSource.UNPRICED,
            source=OperationSource.LOKI,
            ingested_at_ns=END,
        )


async def fresh_schema() -> tuple[Database, str]:
    schema = f"ailogs_bench_{secrets.token_hex(4)}"
    admin = Database(PG_URL, connect_timeout_s=2.0)
    try:
        async with admin.engine.begin() as connection:
            await connection.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:
        await admin.dispose()
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL is required under CI: {exc}")
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    await admin.dispose()
    database = Database(PG_URL, schema=schema)
    await migrate.upgrade(database)
    return database, schema


async def drop(database: Database, schema: str) -> None:
    async with database.engine.begin() as connection:
        await connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    await database.dispose()


def test_ingest_throughput_through_the_worker_path() -> None:
    async def run() -> float:
        database, schema = await fresh_schema()
        try:
            lines = loki_lines(INGEST_OPS, END - 3600 * S, 3600 * S)
            worker = IngestWorker(
                source=MemoryLines(lines),
                store=SqlOperationStore(database),
                prices=PriceTable.load(find_prices()),
                config=WorkerConfig(initial_lookback_ns=3600 * S, chunk_ns=300 * S),
                clock=lambda: END,
            )
            tune_for_service()  # as `ailogs serve` and `ailogs ingest` do
            started = time.perf_counter()
            result = await worker.run_once()
            elapsed = time.perf_counter() - started
            assert result.inserted == INGEST_OPS
            again = await worker.run_once()  # the overlap re-read stores nothing twice
            assert again.inserted == 0
            return INGEST_OPS / elapsed
        finally:
            await drop(database, schema)

    rate = asyncio.run(run())
    report(f"ingest via IngestWorker.run_once: {INGEST_OPS} ops, {rate:,.0f} ops/s")
    assert rate >= 20_000


async def brute_force(database: Database, workspace: str, window: TimeWindow) -> dict[str, Any]:
    window = align_to_hours(window)
    totals: dict[str, Any] = {"requests": 0, "input_tokens": 0, "output_tokens": 0, "errors": 0}
    totals["cost_usd"] = Decimal(0)
    counts, top = histogram.empty(), 0.0
    async with database.session() as session:
        result = await session.stream(
            select(
                AiOperation.input_tokens,
                AiOperation.output_tokens,
                AiOperation.status,
                AiOperation.cost_usd,
                AiOperation.duration_ms,
            ).where(
                AiOperation.workspace_id == workspace,
                AiOperation.start_time_ns >= window.start_ns,
                AiOperation.start_time_ns < window.end_ns,
            )
        )
        async for input_tokens, output_tokens, status, cost, duration in result:
            totals["requests"] += 1
            totals["input_tokens"] += input_tokens
            totals["output_tokens"] += output_tokens
            totals["errors"] += status == OperationStatus.ERROR
            totals["cost_usd"] += cost or 0
            counts[histogram.bucket_index(duration)] += 1
            top = max(top, duration)
    totals["cost_usd"] = float(totals["cost_usd"])
    totals["p50_ms"] = histogram.percentile(counts, 0.5, top)
    totals["p95_ms"] = histogram.percentile(counts, 0.95, top)
    return totals


def test_thirty_day_summary_latency_and_recount() -> None:
    workspace = "ws-big"
    window = TimeWindow(END - 30 * DAY_NS, END)

    async def run() -> tuple[float, float, float, bool]:
        database, schema = await fresh_schema()
        try:
            started = time.perf_counter()
            batch: list[NewOperation] = []
            for op in synthetic_operations(SUMMARY_OPS, workspace, days=30):
                batch.append(op)
                if len(batch) == 20_000:
                    async with database.session() as session:
                        await OperationWriter.from_session(session).write(batch)
                    batch = []
            if batch:
                async with database.session() as session:
                    await OperationWriter.from_session(session).write(batch)
            seed_rate = SUMMARY_OPS / (time.perf_counter() - started)
            async with database.engine.begin() as connection:
                await connection.execute(text("ANALYZE"))
            timings = []
            answer: dict[str, Any] = {}
            for _ in range(30):
                began = time.perf_counter()
                async with database.session() as session:
                    answer = await workspace_summary(
                        workspace, window, usage=UsageRepository.from_session(session)
                    )
                timings.append((time.perf_counter() - began) * 1000)
            recount = await brute_force(database, workspace, window)
            keys = ("requests", "input_tokens", "output_tokens", "errors", "cost_usd")
            agrees = {k: answer["totals"][k] for k in (*keys, "p50_ms", "p95_ms")} == recount
            return seed_rate, statistics.median(timings), max(timings), agrees
        finally:
            await drop(database, schema)

    seed_rate, p50, worst, agrees = asyncio.run(run())
    report(
        f"summary over {SUMMARY_OPS} ops / 30 days: p50 {p50:.1f} ms, max {worst:.1f} ms; "
        f"seeded at {seed_rate:,.0f} ops/s; equals brute-force recount: {agrees}"
    )
    assert agrees
    assert p50 < 150
