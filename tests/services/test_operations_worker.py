"""The Loki ingest worker against an in-memory log source and store."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
import pytest

from ailogs.domain import Direction, LogRecord, TimeWindow, make_record
from ailogs.errors import DatabaseUnavailable
from ailogs.services.ingest_worker import (
    IngestWorker,
    LokiOperationSource,
    WorkerConfig,
    record_to_raw,
)
from ailogs.store.operation_store import InMemoryOperationStore
from ailogs.store.records import NewOperation
from ailogs.store.writer import StagedBatch, WriteResult
from tests.store.factories import PRICES, record

S = 1_000_000_000
START = 1_763_719_200 * S


class MemoryLogs:
    """An OperationLogSource over a list; lines can arrive "late" by appending."""

    def __init__(self) -> None:
        self.records: list[LogRecord] = []
        self.windows: list[TimeWindow] = []

    def emit(self, at_ns: int, **fields: object) -> None:
        line = orjson.dumps(record(ts=at_ns, event="ai.operation", **fields)).decode()
        self.records.append(make_record(at_ns, line, {"service_name": "api"}))

    async def fetch(self, window: TimeWindow) -> list[LogRecord]:
        self.windows.append(window)
        return [r for r in self.records if window.start_ns <= r.timestamp_ns < window.end_ns]


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def worker(logs: MemoryLogs, store: InMemoryOperationStore, clock: Clock) -> IngestWorker:
    config = WorkerConfig(
        lookback_ns=120 * S, initial_lookback_ns=3600 * S, chunk_ns=900 * S, buffer_max=3
    )
    return IngestWorker(source=logs, store=store, prices=PRICES, config=config, clock=clock)


async def test_catches_up_in_chunks_and_moves_the_checkpoint() -> None:
    logs, store, clock = MemoryLogs(), InMemoryOperationStore(), Clock(START + 3600 * S)
    for minute in range(0, 60, 10):
        logs.emit(START + minute * 60 * S, seq=minute)

    report = await worker(logs, store, clock).run_once()

    assert (report.windows, report.inserted, report.duplicates) == (4, 6, 0)
    assert store.checkpoints["loki.ai_operations"] == clock.now
    assert [w.start_ns for w in logs.windows] == [START + i * 900 * S for i in range(4)]


async def test_a_late_line_inside_the_lookback_is_picked_up_once() -> None:
    logs, store, clock = MemoryLogs(), InMemoryOperationStore(), Clock(START + 3600 * S)
    ingest = worker(logs, store, clock)
    logs.emit(START + 3500 * S, seq=1)
    await ingest.run_once()

    logs.emit(START + 3590 * S, seq=2)  # stamped before the checkpoint, arrived after it
    clock.now += 60 * S
    report = await ingest.run_once()

    assert (report.inserted, report.duplicates) == (1, 1)  # the overlap re-read seq=1
    assert len(store.operations) == 2
    assert logs.windows[-1].start_ns == START + 3600 * S - 120 * S


async def test_a_database_outage_keeps_the_checkpoint_and_loses_nothing() -> None:
    logs, store, clock = MemoryLogs(), InMemoryOperationStore(), Clock(START + 3600 * S)
    ingest = worker(logs, store, clock)
    await ingest.run_once()
    checkpoint = store.checkpoints["loki.ai_operations"]
    for second in range(5):
        logs.emit(START + 3600 * S + second * S, seq=second)
    clock.now += 600 * S

    store.available = False
    with pytest.raises(DatabaseUnavailable):
        await ingest.run_once()
    assert store.checkpoints["loki.ai_operations"] == checkpoint
    assert len(ingest.buffer) == 3  # bounded; the rest is re-read from the checkpoint

    store.available = True
    report = await ingest.run_once()
    assert len(store.operations) == 5
    assert report.inserted == 5
    assert ingest.buffer == []


class OneWriteAtATime(InMemoryOperationStore):
    """A store whose writes take a while, recording how many overlap and their order."""

    def __init__(self) -> None:
        super().__init__()
        self.writing = self.most_at_once = 0
        self.first_stamps: list[int] = []

    async def write(self, ops: Sequence[NewOperation] | StagedBatch) -> WriteResult:
        self.writing += 1
        self.most_at_once = max(self.most_at_once, self.writing)
        try:
            await asyncio.sleep(0.01)
            staged = ops if isinstance(ops, StagedBatch) else self.stage(ops)
            self.first_stamps.append(min(op.start_time_ns for op in staged.operations))
            return await super().write(staged)
        finally:
            self.writing -= 1


class FailingWrites(InMemoryOperationStore):
    """A store whose writes fail as the database being down, after `good_writes`."""

    def __init__(self, good_writes: int) -> None:
        super().__init__()
        self.good_writes = good_writes

    async def write(self, ops: Sequence[NewOperation] | StagedBatch) -> WriteResult:
        if self.good_writes == 0:
            raise DatabaseUnavailable("the database went away")
        self.good_writes -= 1
        return await super().write(ops)


async def test_queued_chunks_are_written_one_at_a_time_in_order() -> None:
    logs, store, clock = MemoryLogs(), OneWriteAtATime(), Clock(START + 3600 * S)
    for minute in range(0, 60, 5):
        logs.emit(START + minute * 60 * S, seq=minute)

    report = await worker(logs, store, clock).run_once()

    assert (report.windows, report.inserted) == (4, 12)
    assert store.most_at_once == 1
    assert store.first_stamps == sorted(store.first_stamps)
    assert store.checkpoints["loki.ai_operations"] == clock.now


async def test_an_outage_while_chunks_wait_for_the_database_loses_nothing() -> None:
    logs, store, clock = MemoryLogs(), FailingWrites(good_writes=1), Clock(START + 3600 * S)
    for minute in range(0, 60, 10):  # chunks of 15 minutes hold 2, 1, 2 and 1 operations
        logs.emit(START + minute * 60 * S, seq=minute)
    ingest = worker(logs, store, clock)

    with pytest.raises(DatabaseUnavailable):
        await ingest.run_once()
    assert store.checkpoints["loki.ai_operations"] == START + 900 * S  # after the stored chunk
    assert len(store.operations) == 2
    assert len(ingest.buffer) == 3  # the unconfirmed chunks, up to buffer_max

    store.good_writes = 10
    report = await ingest.run_once()
    assert len(store.operations) == 6
    assert report.inserted == 4
    assert store.checkpoints["loki.ai_operations"] == clock.now


async def test_lines_that_are_not_operation_records_are_counted_not_stored() -> None:
    logs, store, clock = MemoryLogs(), InMemoryOperationStore(), Clock(START + 3600 * S)
    logs.emit(START + 60 * S, input_tokens=-1)
    logs.records.append(make_record(START + 61 * S, "plain text", {"service_name": "api"}))

    report = await worker(logs, store, clock).run_once()

    assert (report.fetched, report.rejected, report.inserted) == (2, 2, 0)


def test_a_line_reads_the_same_with_or_without_structured_metadata() -> None:
    body = {k: v for k, v in record(seq=1).items() if k not in ("ts", "service")}
    line = orjson.dumps(body).decode()
    plain = make_record(START, line, {"service_name": "billing"})
    tagged = make_record(START, line, {"service_name": "billing"}, metadata={"trace_id": "t-9"})

    raws = [record_to_raw(plain), record_to_raw(tagged)]

    # Loki's timestamp and the stream's service fill in what the line leaves out.
    assert raws[0] == raws[1] == {**body, "ts": START, "service": "billing"}
    assert "ts" not in plain.fields  # and the record itself is left as it was
    assert record_to_raw(make_record(START, "{}", {})) == {"ts": START}
    assert record_to_raw(make_record(START, "not json", {})) is None


@dataclass
class Page:
    records: list[LogRecord]


class PagedLoki:
    """A fake Loki query_range: returns at most `limit` lines from `start_ns`, oldest first."""

    def __init__(self, records: list[LogRecord]) -> None:
        self.records = sorted(records, key=lambda r: r.timestamp_ns)
        self.calls = 0

    async def query_range(
        self,
        query: str,
        *,
        start_ns: int,
        end_ns: int,
        limit: int | None = None,
        direction: Direction | None = None,
        step_s: float | None = None,
        tenant: str | None = None,
    ) -> Page:
        self.calls += 1
        matching = [r for r in self.records if start_ns <= r.timestamp_ns < end_ns]
        return Page(matching[: limit or len(matching)])


async def test_the_loki_source_pages_through_a_window_without_gaps() -> None:
    logs = MemoryLogs()
    for second in range(25):
        logs.emit(START + (second // 2) * S, seq=second)  # pairs share a timestamp
    loki = PagedLoki(logs.records)
    source = LokiOperationSource(loki, page_size=4)

    records = await source.fetch(TimeWindow(START, START + 60 * S))

    assert {r.line for r in records} == {r.line for r in logs.records}
    assert loki.calls > 6
