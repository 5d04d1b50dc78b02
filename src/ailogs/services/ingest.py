"""Ingest of AI operation records: one idempotent path behind both doors.

`POST /operations` and the Loki ingest worker both turn raw records into
`NewOperation`s with `operation_records.build_operation` and hand them to an
`OperationSink` (the SQL writer in production, a dict in tests).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ailogs.errors import PayloadTooLarge
from ailogs.services.operation_records import build_operation
from ailogs.services.pricing import PriceTable
from ailogs.store.enums import CostSource, OperationSource
from ailogs.store.records import NewOperation
from ailogs.store.writer import WriteResult

MAX_BATCH = 1000


class OperationSink(Protocol):
    """Anything that stores operations idempotently."""

    async def write(self, ops: Sequence[NewOperation]) -> WriteResult:
        """Store the operations not stored yet."""
        ...


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record that was not stored, by its index in the batch."""

    index: int
    reason: str


@dataclass(slots=True)
class PreparedBatch:
    """Valid operations of a batch and the reasons the others were rejected."""

    operations: list[NewOperation] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def unpriced(self) -> int:
        """Valid operations whose model has no price."""
        return sum(op.cost_source is CostSource.UNPRICED for op in self.operations)


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What a batch did; the body of `POST /operations`."""

    received: int
    inserted: int
    duplicates: int
    unpriced: int
    rejected: tuple[Rejection, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON shape: counts plus `rejected: [{"index", "reason"}]`."""
        return {
            "received": self.received,
            "accepted": self.inserted + self.duplicates,
            "inserted": self.inserted,
            "duplicates": self.duplicates,
            "unpriced": self.unpriced,
            "rejected": [{"index": r.index, "reason": r.reason} for r in self.rejected],
        }


WorkspaceFilter = Callable[[str | None], bool]


def prepare_operations(
    records: Sequence[Any],
    *,
    prices: PriceTable,
    source: OperationSource,
    now_ns: int,
    may_write: WorkspaceFilter | None = None,
) -> PreparedBatch:
    """Validate every record; invalid ones are reported by index, never raised.

    `may_write` (the caller's key) rejects records of workspaces it may not touch.
    """
    batch = PreparedBatch()
    for index, raw in enumerate(records):
        if not isinstance(raw, dict):
            batch.rejected.append(Rejection(index, "record: must be a JSON object"))
            continue
        try:
            op = build_operation(raw, prices=prices, source=source, now_ns=now_ns)
        except ValueError as exc:
            batch.rejected.append(Rejection(index, str(exc)))
            continue
        if may_write is not None and not may_write(op.workspace_id or None):
            batch.rejected.append(Rejection(index, "workspace_id: not allowed for this key"))
            continue
        batch.operations.append(op)
    return batch


async def ingest_operations(
    records: Sequence[Any],
    *,
    sink: OperationSink,
    prices: PriceTable,
    now_ns: int,
    source: OperationSource = OperationSource.API,
    may_write: WorkspaceFilter | None = None,
) -> IngestReport:
    """Validate a batch (at most MAX_BATCH records) and store its valid records."""
    if len(records) > MAX_BATCH:
        raise PayloadTooLarge(
            f"a batch holds at most {MAX_BATCH} records, this one has {len(records)}"
        )
    batch = prepare_operations(
        records, prices=prices, source=source, now_ns=now_ns, may_write=may_write
    )
    result = await sink.write(batch.operations) if batch.operations else WriteResult(0, 0)
    return IngestReport(
        received=len(records),
        inserted=result.inserted,
        duplicates=result.duplicates,
        unpriced=batch.unpriced,
        rejected=tuple(batch.rejected),
    )
