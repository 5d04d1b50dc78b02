"""The one idempotent write path for operations, used by both ingest doors.

`INSERT ... ON CONFLICT (id) DO NOTHING RETURNING` stores the new rows and
tells which they were; only those are added to the rollups, in the same
transaction. A re-read overlap, a retried batch or a crash before commit
therefore neither loses nor double-counts an operation.

PostgreSQL does it in one statement (`pg_write.py`: the rollups in SQL from the
inserted rows); SQLite inserts, then upserts the rollups aggregated in Python
(`rollups.py`). Error patterns are fingerprinted in Python on both.

`stage_batch` does the CPU part of a write (drop repeated ids, encode the COPY
text), so a caller with a thread to spare, like the ingest worker, does it
there and the write itself is only the database's work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from ailogs.store.bulk import execute_upsert, insert_new
from ailogs.store.copy_text import copy_text
from ailogs.store.models import AiOperation, table_of
from ailogs.store.pg_write import insert_and_roll_up
from ailogs.store.records import OPERATION_COLUMNS, NewOperation
from ailogs.store.rollups import error_pattern_upserts, rollup_upserts

# Rows per SQLite INSERT statement.
INSERT_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write did: rows created and rows that were already there."""

    inserted: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class StagedBatch:
    """A batch made ready to write by pure CPU work, which may run off the event loop.

    `operations` are unique by id; `given` counts the operations given, repeats
    included. `copy_text` is their PostgreSQL COPY payload, when one was made.
    """

    operations: list[NewOperation]
    given: int
    copy_text: bytes | None = None


def stage_batch(ops: Sequence[NewOperation], *, for_postgresql: bool) -> StagedBatch:
    """Drop repeated ids (the last of each wins) and encode the COPY text if asked."""
    unique = list({op.id: op for op in ops}.values())
    text = copy_text(unique) if for_postgresql and unique else None
    return StagedBatch(unique, len(ops), text)


class OperationWriter:
    """Stores operations and keeps every rollup current."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.table: Table = table_of(AiOperation)

    @classmethod
    def from_session(cls, session: AsyncSession) -> OperationWriter:
        """A writer working inside the caller's unit of work."""
        return cls(session)

    async def write(self, ops: Sequence[NewOperation] | StagedBatch) -> WriteResult:
        """Insert the operations not stored yet, then roll up exactly those."""
        postgresql = self.session.get_bind().dialect.name == "postgresql"
        staged = ops if isinstance(ops, StagedBatch) else stage_batch(ops, for_postgresql=False)
        unique = staged.operations
        if not unique:
            return WriteResult(inserted=0, duplicates=staged.given)
        if postgresql:
            inserted, failed_ids = await insert_and_roll_up(self.session, unique, staged.copy_text)
            # The statement names only the new rows whose status is error.
            failed = [op for op in unique if op.id in failed_ids] if failed_ids else []
            for upsert in error_pattern_upserts(failed):
                await execute_upsert(self.session, upsert)
            return WriteResult(inserted=inserted, duplicates=staged.given - inserted)
        inserted_ids: set[str] = set()
        for start in range(0, len(unique), INSERT_CHUNK):
            chunk = unique[start : start + INSERT_CHUNK]
            inserted_ids.update(
                await insert_new(self.session, self.table, chunk, OPERATION_COLUMNS)
            )
        new = [op for op in unique if op.id in inserted_ids]
        for upsert in rollup_upserts(new):
            await execute_upsert(self.session, upsert)
        return WriteResult(inserted=len(new), duplicates=staged.given - len(new))
