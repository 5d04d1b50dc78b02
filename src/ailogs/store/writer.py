"""The one idempotent write path for operations, used by both ingest doors.

`INSERT ... ON CONFLICT (id) DO NOTHING RETURNING id` stores the new rows and
tells which they were; only those are added to the rollups, in the same
transaction. A re-read overlap, a retried batch or a crash before commit
therefore neither loses nor double-counts an operation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Executable, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ailogs.store.models import AiOperation, table_of
from ailogs.store.records import NewOperation
from ailogs.store.rollups import upsert_error_patterns, upsert_threads, upsert_usage

# Rows per INSERT statement: under PostgreSQL's 32767 bind parameters (28 columns).
INSERT_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write did: rows created and rows that were already there."""

    inserted: int
    duplicates: int


class OperationWriter:
    """Stores operations and keeps every rollup current."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.table: Table = table_of(AiOperation)

    @classmethod
    def from_session(cls, session: AsyncSession) -> OperationWriter:
        """A writer working inside the caller's unit of work."""
        return cls(session)

    async def write(self, ops: Sequence[NewOperation]) -> WriteResult:
        """Insert the operations not stored yet, then roll up exactly those."""
        unique = list({op.id: op for op in ops}.values())
        inserted_ids: set[str] = set()
        for start in range(0, len(unique), INSERT_CHUNK):
            chunk = unique[start : start + INSERT_CHUNK]
            inserted_ids.update(await self._insert(chunk))
        new = [op for op in unique if op.id in inserted_ids]
        if new:
            await upsert_usage(self.session, new)
            await upsert_threads(self.session, new)
            await upsert_error_patterns(self.session, new)
        return WriteResult(inserted=len(new), duplicates=len(ops) - len(new))

    async def _insert(self, chunk: Sequence[NewOperation]) -> list[str]:
        rows = [op.row() for op in chunk]
        if self.session.get_bind().dialect.name == "postgresql":
            stmt: Executable = (
                postgresql.insert(self.table)
                .on_conflict_do_nothing(index_elements=["id"])
                .returning(self.table.c.id)
            )
        else:
            stmt = (
                sqlite.insert(self.table)
                .on_conflict_do_nothing(index_elements=["id"])
                .returning(self.table.c.id)
            )
        # executemany + RETURNING: SQLAlchemy batches it into multi-row VALUES
        # ("insertmanyvalues") and returns only the rows the INSERT created.
        result = await self.session.execute(stmt, rows)
        return list(result.scalars())
