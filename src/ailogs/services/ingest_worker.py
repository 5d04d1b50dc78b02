"""The ingest worker: reads `event="ai.operation"` lines from Loki into the store.

Each run reads from `checkpoint - lookback` to now, in chunks. The lookback
(Loki's ingestion delay) re-reads an overlap so lines that arrive late are
picked up; the content-derived ids make the overlap harmless. The checkpoint
moves only after a chunk is stored, so a crash or an outage loses nothing: the
next run re-reads from the old checkpoint. While the database is down, fetched
operations wait in a bounded buffer and are written first on the next run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ailogs.collector import collector_paused
from ailogs.domain import Direction, LogRecord, TimeWindow, parse_body
from ailogs.errors import AilogsError, DatabaseUnavailable
from ailogs.services.ingest import PreparedBatch, prepare_operations
from ailogs.services.pricing import PriceTable
from ailogs.store.enums import OperationSource
from ailogs.store.operation_store import OperationStore
from ailogs.store.records import NewOperation
from ailogs.store.writer import StagedBatch, WriteResult

log = logging.getLogger(__name__)

CHECKPOINT = "loki.ai_operations"
OPERATIONS_LOGQL = '{service_name=~".+"} | json event | event="ai.operation"'


class OperationLogSource(Protocol):
    """Where `ai.operation` log lines come from."""

    async def fetch(self, window: TimeWindow) -> list[LogRecord]:
        """Every ai.operation line in the window (any order; repeats are harmless)."""
        ...


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """How far back and in what steps the worker reads."""

    lookback_ns: int = 120 * 1_000_000_000
    initial_lookback_ns: int = 3_600 * 1_000_000_000
    chunk_ns: int = 900 * 1_000_000_000
    buffer_max: int = 50_000
    interval_s: float = 30.0
    max_backoff_s: float = 300.0
    # Prepared chunks that may wait for the database while the next is read.
    queued_writes: int = 2

    def __post_init__(self) -> None:
        if self.queued_writes < 1:
            raise ValueError("queued_writes must be at least 1")


@dataclass(frozen=True, slots=True)
class RunReport:
    """What one catch-up run did."""

    windows: int
    fetched: int
    inserted: int
    duplicates: int
    rejected: int
    checkpoint_ns: int | None
    buffered: int
    caught_up: bool


def record_to_raw(record: LogRecord) -> dict[str, Any] | None:
    """The operation record a log line carries: its JSON body, timestamped by Loki if need be."""
    fields = record.fields
    if record.metadata is None and fields.__class__ is dict and fields:
        # Without structured metadata, a record's fields are its parsed body:
        # the line need not be parsed again. The record's own dict is not changed.
        body: dict[str, Any] = fields
    else:
        parsed = parse_body(record.line)
        if parsed is None:
            return None
        body = parsed
    stamped = "ts" in body
    named = "service" in body or record.service == "unknown"
    if stamped and named:
        return body
    body = dict(body)
    if not stamped:
        body["ts"] = record.timestamp_ns
    if not named:
        body["service"] = record.service
    return body


@dataclass(frozen=True, slots=True)
class _PendingWrite:
    """A chunk being written, or waiting for the write before it, while the next is prepared."""

    task: asyncio.Future[WriteResult]
    window: TimeWindow
    operations: list[NewOperation]


def _abandon(pending: deque[_PendingWrite]) -> None:
    """Cancel the queued writes; a failure one of them ended with is not reported again."""
    for write in pending:
        if not write.task.done():
            write.task.cancel()
        elif not write.task.cancelled():
            write.task.exception()
    pending.clear()


class IngestWorker:
    """Catches up on ai.operation lines and stores them; see the module docstring."""

    def __init__(
        self,
        *,
        source: OperationLogSource,
        store: OperationStore,
        prices: PriceTable,
        config: WorkerConfig | None = None,
        clock: Callable[[], int] = time.time_ns,
        name: str = CHECKPOINT,
    ) -> None:
        self.source = source
        self.store = store
        self.prices = prices
        self.config = config or WorkerConfig()
        self.clock = clock
        self.name = name
        self.buffer: list[NewOperation] = []
        self.position: int | None = None  # the last checkpoint this process saved
        self.dropped_from_buffer = 0

    async def run_once(self) -> RunReport:
        """Read from the checkpoint up to now; raise DatabaseUnavailable if the store is down."""
        now_ns = self.clock()
        fetched = inserted = duplicates = rejected = windows = 0
        if self.buffer:
            result = await self.store.write(self.buffer)
            inserted, duplicates = result.inserted, result.duplicates
            self.buffer = []
        try:
            checkpoint = await self.store.load_checkpoint(self.name)
        except DatabaseUnavailable:
            if self.position is None:
                raise
            # Keep reading from where this process got to, and buffer what it reads.
            checkpoint = self.position
        start = (
            now_ns - self.config.initial_lookback_ns
            if checkpoint is None
            else max(checkpoint - self.config.lookback_ns, 0)
        )
        # Pipelined: while chunks are written (the database works), the next is
        # fetched and validated (Python works). Writes run one at a time, in
        # order; up to `queued_writes` prepared chunks wait for theirs, so
        # neither side idles while the other is briefly slower. Checkpoints
        # still advance in order, each only after its own chunk is stored.
        pending: deque[_PendingWrite] = deque()
        try:
            while start < now_ns:
                window = TimeWindow(start, min(start + self.config.chunk_ns, now_ns))
                records = await self.source.fetch(window)
                # Parsing, validation and encoding for the store are pure CPU
                # work: done in a thread, they leave the event loop free to drive
                # the pending writes, so the database and Python work at the same
                # time (and a write itself is only the database's work).
                unreadable, batch, staged = await asyncio.to_thread(self._prepare, records, now_ns)
                fetched += len(records)
                rejected += len(batch.rejected) + unreadable
                for rejection in batch.rejected[:5]:
                    log.warning("ingest: rejected ai.operation line: %s", rejection.reason)
                while len(pending) >= self.config.queued_writes:
                    result, checkpoint = await self._finish(pending, also_hold=staged.operations)
                    inserted += result.inserted
                    duplicates += result.duplicates
                    windows += 1
                before = pending[-1].task if pending else None
                task = asyncio.ensure_future(self._write_after(before, staged))
                pending.append(_PendingWrite(task, window, staged.operations))
                start = window.end_ns
            while pending:
                result, checkpoint = await self._finish(pending, also_hold=[])
                inserted += result.inserted
                duplicates += result.duplicates
                windows += 1
        except BaseException:
            # A failure leaves the queued chunks' writes unconfirmed: abandon them
            # (their transactions roll back) and let the checkpoint re-read them.
            _abandon(pending)
            raise
        return RunReport(
            windows=windows,
            fetched=fetched,
            inserted=inserted,
            duplicates=duplicates,
            rejected=rejected,
            checkpoint_ns=checkpoint,
            buffered=len(self.buffer),
            caught_up=True,
        )

    def _prepare(
        self, records: list[LogRecord], now_ns: int
    ) -> tuple[int, PreparedBatch, StagedBatch]:
        """(lines without a JSON body, the validated batch, its operations staged) of a chunk."""
        # Tens of thousands of acyclic objects: reference counting frees the
        # temporary ones, and the collector need not scan the batch as it grows.
        with collector_paused():
            raws = [raw for raw in map(record_to_raw, records) if raw is not None]
            batch = prepare_operations(
                raws, prices=self.prices, source=OperationSource.LOKI, now_ns=now_ns
            )
            return len(records) - len(raws), batch, self.store.stage(batch.operations)

    async def _write_after(
        self, before: asyncio.Future[WriteResult] | None, staged: StagedBatch
    ) -> WriteResult:
        """Write a chunk once the write before it has ended (one write at a time)."""
        if before is not None:
            await asyncio.wait([before])
        return await self.store.write(staged)

    async def _finish(
        self, pending: deque[_PendingWrite], *, also_hold: list[NewOperation]
    ) -> tuple[WriteResult, int]:
        """Await the oldest queued write, then move the checkpoint past its chunk.

        Returns the write's result and the new checkpoint. If the database is
        down, every unconfirmed chunk (and `also_hold`) goes to the buffer.
        """
        oldest = pending.popleft()
        try:
            result = await oldest.task
            await self.store.save_checkpoint(self.name, oldest.window.end_ns, self.clock())
        except DatabaseUnavailable:
            self._hold(oldest.operations)
            for later in pending:
                self._hold(later.operations)
            self._hold(also_hold)
            raise
        self.position = oldest.window.end_ns
        return result, oldest.window.end_ns

    def _hold(self, ops: list[NewOperation]) -> None:
        # Bounded: what does not fit is dropped here but not lost, because the
        # checkpoint has not moved past it and the next run reads it again.
        room = self.config.buffer_max - len(self.buffer)
        self.buffer.extend(ops[: max(room, 0)])
        self.dropped_from_buffer += max(len(ops) - max(room, 0), 0)

    async def run_forever(self, stop: asyncio.Event | None = None) -> None:
        """Run until `stop` is set, backing off (bounded, doubling) while Loki or the DB fail."""
        stop = stop or asyncio.Event()
        delay = self.config.interval_s
        while not stop.is_set():
            try:
                report = await self.run_once()
                delay = self.config.interval_s
                if report.inserted:
                    log.info("ingest: stored %d new operations", report.inserted)
            except AilogsError as exc:
                delay = min(delay * 2, self.config.max_backoff_s)
                log.warning("ingest: %s; retrying in %.0fs", exc.message, delay)
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
            except TimeoutError:
                pass


class LokiOperationSource:
    """OperationLogSource over the Loki client: pages forward through a window."""

    def __init__(
        self,
        client: LokiQueryClient,
        *,
        query: str = OPERATIONS_LOGQL,
        page_size: int = 5000,
        tenant: str | None = None,
    ) -> None:
        self.client = client
        self.query = query
        self.page_size = page_size
        self.tenant = tenant

    async def fetch(self, window: TimeWindow) -> list[LogRecord]:
        """All matching lines of the window, paging forward by timestamp."""
        records: list[LogRecord] = []
        start = window.start_ns
        while start < window.end_ns:
            response = await self.client.query_range(
                self.query,
                start_ns=start,
                end_ns=window.end_ns,
                limit=self.page_size,
                direction=Direction.FORWARD,
                tenant=self.tenant,
            )
            page = response.records
            records.extend(page)
            if len(page) < self.page_size:
                break
            last = max(record.timestamp_ns for record in page)
            # Restart at the last timestamp (not after it) so lines sharing it in
            # other streams are not skipped; the repeats are deduplicated by id.
            start = last if last > start else last + 1
        return records


class LokiQueryResponse(Protocol):
    """The part of a Loki answer the source reads."""

    @property
    def records(self) -> list[LogRecord]:
        """Log lines of the answer."""
        ...


class LokiQueryClient(Protocol):
    """The part of `loki.client.LokiClient` the source uses."""

    async def query_range(
        self,
        query: str,
        *,
        start_ns: int,
        end_ns: int,
        limit: int | None = ...,
        direction: Direction | None = ...,
        step_s: float | None = ...,
        tenant: str | None = ...,
    ) -> LokiQueryResponse:
        """Run a LogQL query over a range."""
        ...
