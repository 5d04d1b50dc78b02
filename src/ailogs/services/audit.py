"""Audited requests go to the audit table without slowing the requests themselves.

Every query, analyze and correlate call is recorded, and every refusal. A flood
(a leaked key, a hot loop against the rate limit) must neither block the event
loop on database writes nor grow memory without bound: entries are queued,
written in batches by one background task, and counted (not queued) once the
queue is full.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from ailogs.store.access import AuditEntry

__all__ = ["AuditEntry", "AuditRecorder", "AuditSink"]

logger = logging.getLogger(__name__)


AuditSink = Callable[[Sequence[AuditEntry]], Awaitable[None]]


class AuditRecorder:
    """Queues audit entries and writes them in batches through `sink`.

    `record` never blocks. Call `start()` once the event loop runs (the app's
    lifespan) and `aclose()` at shutdown to write what is left.
    """

    def __init__(
        self,
        sink: AuditSink,
        *,
        max_queue: int = 10_000,
        batch_size: int = 500,
        flush_interval_s: float = 0.5,
    ) -> None:
        self._sink = sink
        self._queue: asyncio.Queue[AuditEntry] = asyncio.Queue(maxsize=max_queue)
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._task: asyncio.Task[None] | None = None
        self._pending = asyncio.Event()
        self.dropped = 0
        self.written = 0

    def record(self, entry: AuditEntry) -> None:
        """Queue an entry; when the queue is full, count it as dropped."""
        try:
            self._queue.put_nowait(entry)
        except asyncio.QueueFull:
            self.dropped += 1
        else:
            self._pending.set()

    def start(self) -> None:
        """Start the background writer."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ailogs-audit")

    async def flush(self) -> None:
        """Write everything queued now."""
        while not self._queue.empty():
            await self._write(self._drain())

    async def aclose(self) -> None:
        """Stop the writer and write what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    def _drain(self) -> list[AuditEntry]:
        batch: list[AuditEntry] = []
        while len(batch) < self._batch_size and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    async def _run(self) -> None:
        while True:
            # Entries stay in the queue until written, so flush() always sees them all.
            await self._pending.wait()
            self._pending.clear()
            await asyncio.sleep(self._flush_interval_s)
            await self.flush()

    async def _write(self, batch: list[AuditEntry]) -> None:
        if not batch:
            return
        try:
            await self._sink(batch)
        except Exception:  # the audit must never take the API down with it
            logger.exception("could not write %d audit entries", len(batch))
            self.dropped += len(batch)
        else:
            self.written += len(batch)
