"""The operation store as the ingest worker sees it: a Protocol, a SQL
implementation with its own units of work, and an in-memory one for tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ailogs.errors import DatabaseUnavailable
from ailogs.store.database import Database
from ailogs.store.records import NewOperation
from ailogs.store.repositories import CheckpointRepository
from ailogs.store.writer import OperationWriter, StagedBatch, WriteResult, stage_batch


class OperationStore(Protocol):
    """Where ingested operations and ingest checkpoints are kept."""

    def stage(self, ops: Sequence[NewOperation]) -> StagedBatch:
        """Make operations ready to write: pure CPU work, safe to run in a thread."""
        ...

    async def write(self, ops: Sequence[NewOperation] | StagedBatch) -> WriteResult:
        """Store operations idempotently (and their rollups)."""
        ...

    async def load_checkpoint(self, name: str) -> int | None:
        """The named checkpoint, or None for a first run."""
        ...

    async def save_checkpoint(self, name: str, position_ns: int, now_ns: int) -> None:
        """Persist the named checkpoint."""
        ...


class SqlOperationStore:
    """OperationStore over a Database: each call is its own committed transaction."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def stage(self, ops: Sequence[NewOperation]) -> StagedBatch:
        """Unique operations, with their COPY text on PostgreSQL."""
        return stage_batch(ops, for_postgresql=self.database.dialect == "postgresql")

    async def write(self, ops: Sequence[NewOperation] | StagedBatch) -> WriteResult:
        """Insert new operations and roll them up in one transaction."""
        async with self.database.session() as session:
            return await OperationWriter.from_session(session).write(ops)

    async def load_checkpoint(self, name: str) -> int | None:
        """Read a checkpoint."""
        async with self.database.session() as session:
            return await CheckpointRepository.from_session(session).get(name)

    async def save_checkpoint(self, name: str, position_ns: int, now_ns: int) -> None:
        """Write a checkpoint."""
        async with self.database.session() as session:
            await CheckpointRepository.from_session(session).save(name, position_ns, now_ns)


class InMemoryOperationStore:
    """OperationStore in a dict; `available = False` simulates a database outage."""

    def __init__(self) -> None:
        self.operations: dict[str, NewOperation] = {}
        self.checkpoints: dict[str, int] = {}
        self.available = True

    def _check(self) -> None:
        if not self.available:
            raise DatabaseUnavailable("the in-memory store is switched off")

    def stage(self, ops: Sequence[NewOperation]) -> StagedBatch:
        """Unique operations (nothing to encode)."""
        return stage_batch(ops, for_postgresql=False)

    async def write(self, ops: Sequence[NewOperation] | StagedBatch) -> WriteResult:
        """Keep operations whose id is new."""
        self._check()
        staged = ops if isinstance(ops, StagedBatch) else self.stage(ops)
        inserted = 0
        for op in staged.operations:
            if op.id not in self.operations:
                self.operations[op.id] = op
                inserted += 1
        return WriteResult(inserted=inserted, duplicates=staged.given - inserted)

    async def load_checkpoint(self, name: str) -> int | None:
        """Read a checkpoint."""
        self._check()
        return self.checkpoints.get(name)

    async def save_checkpoint(self, name: str, position_ns: int, now_ns: int) -> None:
        """Write a checkpoint."""
        self._check()
        self.checkpoints[name] = position_ns
