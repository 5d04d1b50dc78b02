"""Repositories over the store, each built `from_session()` inside a unit of work.

They read and write rows; they never commit (the session's owner does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Self

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ailogs.store.enums import AuditOutcome, Granularity
from ailogs.store.models import (
    HISTOGRAM_COLUMNS,
    AiConversation,
    AiOperation,
    AiWorkspaceUsage,
    AiWorkspaceUsageError,
    IngestCheckpoint,
    QueryAudit,
    table_of,
)


class _Repository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> Self:
        """A repository working inside the caller's unit of work."""
        return cls(session)

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name


class CheckpointRepository(_Repository):
    """Positions of named ingests (`ingest_checkpoints`)."""

    async def get(self, name: str) -> int | None:
        """The stored position in Unix ns, or None for a first run."""
        return await self.session.scalar(
            select(IngestCheckpoint.position_ns).where(IngestCheckpoint.name == name)
        )

    async def save(self, name: str, position_ns: int, now_ns: int) -> None:
        """Store a position (insert or overwrite)."""
        table = table_of(IngestCheckpoint)
        values = {"name": name, "position_ns": position_ns, "updated_at_ns": now_ns}
        if self.dialect == "postgresql":
            pg = postgresql.insert(table).values(values)
            await self.session.execute(
                pg.on_conflict_do_update(
                    index_elements=["name"],
                    set_={"position_ns": pg.excluded.position_ns, "updated_at_ns": now_ns},
                )
            )
        else:
            lite = sqlite.insert(table).values(values)
            await self.session.execute(
                lite.on_conflict_do_update(
                    index_elements=["name"],
                    set_={"position_ns": lite.excluded.position_ns, "updated_at_ns": now_ns},
                )
            )


class QueryAuditRepository(_Repository):
    """Appends to `query_audit`: answered, failed and denied requests alike."""

    async def record(
        self,
        *,
        at_ns: int,
        path: str,
        outcome: AuditOutcome,
        caller_key_id: str | None = None,
        tenant: str | None = None,
        workspace_id: str | None = None,
        request_id: str | None = None,
        mode: str | None = None,
        logql: str | None = None,
        bytes_processed: int | None = None,
        lines: int | None = None,
        latency_ms: float | None = None,
        reason: str | None = None,
    ) -> None:
        """Add one audit row."""
        self.session.add(
            QueryAudit(
                at_ns=at_ns,
                path=path,
                outcome=outcome,
                caller_key_id=caller_key_id,
                tenant=tenant,
                workspace_id=workspace_id,
                request_id=request_id,
                mode=mode,
                logql=logql,
                bytes_processed=bytes_processed,
                lines=lines,
                latency_ms=latency_ms,
                reason=reason,
            )
        )
        await self.session.flush()


class ConversationRepository(_Repository):
    """One conversation: its running totals and its operations."""

    async def get(self, conversation_id: str) -> AiConversation | None:
        """The conversation's totals, or None when no operation named it."""
        return await self.session.get(AiConversation, conversation_id)

    async def operations(self, conversation_id: str, limit: int) -> Sequence[AiOperation]:
        """The conversation's stored operations in time order (at most `limit`)."""
        result = await self.session.scalars(
            select(AiOperation)
            .where(AiOperation.conversation_id == conversation_id)
            .order_by(AiOperation.start_time_ns, AiOperation.id)
            .limit(limit)
        )
        return result.all()

    async def models(self, conversation_id: str) -> list[str]:
        """Distinct models the conversation used (among retained operations)."""
        result = await self.session.scalars(
            select(AiOperation.request_model)
            .where(AiOperation.conversation_id == conversation_id)
            .distinct()
            .order_by(AiOperation.request_model)
        )
        return list(result.all())


BucketSpan = tuple[Granularity, int, int]  # granularity, first bucket start, end (exclusive)


@dataclass(slots=True)
class ModelUsage:
    """Usage of one model summed over a set of buckets."""

    model: str
    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    unpriced: int = 0
    duration_us_sum: int = 0
    duration_ms_max: float = 0.0
    histogram: list[int] = field(default_factory=list)
    error_types: dict[str, int] = field(default_factory=dict)


_SUMS = (
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cost_usd",
    "unpriced",
    "duration_us_sum",
)


class UsageRepository(_Repository):
    """Reads of the hourly and daily rollups."""

    async def workspace_exists(self, workspace_id: str) -> bool:
        """True when any operation of the workspace was ever rolled up."""
        found = await self.session.scalar(
            select(AiWorkspaceUsage.workspace_id)
            .where(AiWorkspaceUsage.workspace_id == workspace_id)
            .limit(1)
        )
        return found is not None

    async def by_model(
        self, workspace_id: str | None, spans: Sequence[BucketSpan]
    ) -> list[ModelUsage]:
        """Per-model totals and merged histograms over the given bucket spans."""
        if not spans:
            return []
        usage = table_of(AiWorkspaceUsage)
        columns: list[ColumnElement[Any]] = [usage.c.model]
        columns += [func.sum(usage.c[name]).label(name) for name in _SUMS]
        columns.append(func.max(usage.c.duration_ms_max).label("duration_ms_max"))
        columns += [func.sum(usage.c[name]).label(name) for name in HISTOGRAM_COLUMNS]
        query = select(*columns).where(_spans_filter(usage, workspace_id, spans))
        rows = (await self.session.execute(query.group_by(usage.c.model))).all()
        models: dict[str, ModelUsage] = {}
        for row in rows:
            item = ModelUsage(model=row.model)
            # PostgreSQL's SUM(bigint) is NUMERIC: bring counts back to int.
            for name in _SUMS:
                setattr(item, name, int(getattr(row, name) or 0))
            item.cost_usd = Decimal(row.cost_usd or 0)
            item.duration_ms_max = float(row.duration_ms_max or 0.0)
            item.histogram = [int(getattr(row, name) or 0) for name in HISTOGRAM_COLUMNS]
            models[item.model] = item
        errors = table_of(AiWorkspaceUsageError)
        error_rows = await self.session.execute(
            select(errors.c.model, errors.c.error_type, func.sum(errors.c["count"]))
            .where(_spans_filter(errors, workspace_id, spans))
            .group_by(errors.c.model, errors.c.error_type)
        )
        for model, error_type, count in error_rows.all():
            if model in models:
                models[model].error_types[error_type] = int(count)
        return sorted(models.values(), key=lambda item: (-item.requests, item.model))


def _spans_filter(table: Any, workspace_id: str | None, spans: Sequence[BucketSpan]) -> Any:
    ranges = [
        and_(
            table.c.granularity == granularity,
            table.c.bucket_start_ns >= start_ns,
            table.c.bucket_start_ns < end_ns,
        )
        for granularity, start_ns, end_ns in spans
    ]
    condition = or_(*ranges)
    if workspace_id is not None:
        condition = and_(table.c.workspace_id == workspace_id, condition)
    return condition
