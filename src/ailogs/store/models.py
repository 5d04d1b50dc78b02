"""SQLAlchemy 2 models of the operations store (DESIGN.md §6).

Column names follow the flat log schema of DESIGN.md §3; the comment on each
column names its OpenTelemetry GenAI attribute. Every time is Unix nanoseconds
(`*_ns`, BigInteger); money is `Money` (exact on both dialects).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Enum,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ailogs.store.columns import JsonColumn, Money
from ailogs.store.enums import (
    AuditOutcome,
    CostSource,
    Granularity,
    OperationSource,
    OperationStatus,
)
from ailogs.store.histogram import BUCKETS

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(64)  # ids from clients: trace, span, conversation, workspace, ...
NAME = String(128)  # services, models, providers, operations
# Keys ingest looks up on every write compare bytewise on PostgreSQL (migration 0003).
KEY_ID = String(64).with_variant(String(64, collation="C"), "postgresql")
OPERATION_ID = String(32).with_variant(String(32, collation="C"), "postgresql")
HISTOGRAM_COLUMNS = tuple(f"h{index:02d}" for index in range(BUCKETS))


def _enum(kind: type[Any]) -> Enum:
    # Stored as plain strings without a CHECK: adding a value needs no migration.
    return Enum(
        kind,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
    )


class Base(DeclarativeBase):
    """Declarative base with a constraint naming convention (stable Alembic names)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class AiOperation(Base):
    """One LLM call. `id` is derived from the record's content, so re-ingest is a no-op."""

    __tablename__ = "ai_operations"

    id: Mapped[str] = mapped_column(OPERATION_ID, primary_key=True)
    start_time_ns: Mapped[int] = mapped_column(BigInteger)
    trace_id: Mapped[str | None] = mapped_column(ID)  # trace_id
    span_id: Mapped[str | None] = mapped_column(ID)  # span_id
    parent_span_id: Mapped[str | None] = mapped_column(ID)
    correlation_id: Mapped[str | None] = mapped_column(ID)
    conversation_id: Mapped[str | None] = mapped_column(KEY_ID)  # gen_ai.conversation.id
    workspace_id: Mapped[str] = mapped_column(ID)  # "" when the record names none
    service: Mapped[str] = mapped_column(NAME)  # service.name
    operation: Mapped[str] = mapped_column(NAME)  # gen_ai.operation.name
    provider: Mapped[str] = mapped_column(NAME)  # gen_ai.provider.name
    request_model: Mapped[str] = mapped_column(NAME)  # gen_ai.request.model
    response_model: Mapped[str | None] = mapped_column(NAME)  # gen_ai.response.model
    input_tokens: Mapped[int] = mapped_column(BigInteger)  # gen_ai.usage.input_tokens
    output_tokens: Mapped[int] = mapped_column(BigInteger)  # gen_ai.usage.output_tokens
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger)  # ...cache_read.input_tokens
    reasoning_tokens: Mapped[int] = mapped_column(BigInteger)
    duration_ms: Mapped[float] = mapped_column(Float)  # gen_ai.client.operation.duration
    ttft_ms: Mapped[float | None] = mapped_column(Float)  # time to first token
    status: Mapped[OperationStatus] = mapped_column(_enum(OperationStatus))
    error_type: Mapped[str | None] = mapped_column(NAME)  # error.type
    http_status: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[Decimal | None] = mapped_column(Money)
    cost_source: Mapped[CostSource] = mapped_column(_enum(CostSource))
    price_version: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[OperationSource] = mapped_column(_enum(OperationSource))
    ingested_at_ns: Mapped[int] = mapped_column(BigInteger)
    attributes: Mapped[dict[str, Any]] = mapped_column(JsonColumn)

    # Few indexes: each costs every insert. Workspace answers come from the
    # rollups; raw scans by workspace are time-bounded (the BRIN index).
    __table_args__ = (
        Index("ix_ai_operations_conversation_time", "conversation_id", "start_time_ns"),
        # BRIN on PostgreSQL: rows arrive roughly in time order, and a BRIN index
        # costs almost nothing per insert (retention and baselines scan by time).
        Index("ix_ai_operations_start_time_ns", "start_time_ns", postgresql_using="brin"),
    )


class AiConversation(Base):
    """Running totals of one conversation, kept current by ingest."""

    __tablename__ = "ai_conversations"

    conversation_id: Mapped[str] = mapped_column(KEY_ID, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ID)
    operations: Mapped[int] = mapped_column(BigInteger)
    errors: Mapped[int] = mapped_column(BigInteger)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    cost_usd: Mapped[Decimal] = mapped_column(Money)
    first_seen_ns: Mapped[int] = mapped_column(BigInteger)
    last_seen_ns: Mapped[int] = mapped_column(BigInteger)

    # No secondary index, so updates stay HOT (fillfactor 70 on PostgreSQL).
    __table_args__ = ({"postgresql_with": {"fillfactor": 70}},)


class AiCorrelation(Base):
    """Running totals of the AI calls made under one correlation (request) id."""

    __tablename__ = "ai_correlations"

    correlation_id: Mapped[str] = mapped_column(KEY_ID, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ID)
    operations: Mapped[int] = mapped_column(BigInteger)
    errors: Mapped[int] = mapped_column(BigInteger)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    cost_usd: Mapped[Decimal] = mapped_column(Money)
    duration_ms_sum: Mapped[float] = mapped_column(Float)
    first_seen_ns: Mapped[int] = mapped_column(BigInteger)
    last_seen_ns: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_ai_correlations_last_seen_ns", "last_seen_ns", postgresql_using="brin"),
    )


class AiWorkspaceUsage(Base):
    """Hourly and daily usage per workspace, provider, model and operation.

    Every measure is additive (counts, sums, the duration histogram `h00..h23`
    over `histogram.BOUNDS_MS`), so buckets merge by addition; `duration_ms_max`
    merges by max. Durations are summed in whole microseconds to stay exact.
    """

    __tablename__ = "ai_workspace_usage"

    workspace_id: Mapped[str] = mapped_column(ID, primary_key=True)
    granularity: Mapped[Granularity] = mapped_column(_enum(Granularity), primary_key=True)
    bucket_start_ns: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    provider: Mapped[str] = mapped_column(NAME, primary_key=True)
    model: Mapped[str] = mapped_column(NAME, primary_key=True)
    operation: Mapped[str] = mapped_column(NAME, primary_key=True)
    requests: Mapped[int] = mapped_column(BigInteger)
    errors: Mapped[int] = mapped_column(BigInteger)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger)
    reasoning_tokens: Mapped[int] = mapped_column(BigInteger)
    cost_usd: Mapped[Decimal] = mapped_column(Money)
    unpriced: Mapped[int] = mapped_column(BigInteger)
    duration_us_sum: Mapped[int] = mapped_column(BigInteger)
    duration_ms_max: Mapped[float] = mapped_column(Float)
    h00: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    h01: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    h02: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    h03: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    h04: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    h05: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    h06: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    h07: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    h08: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    h09: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    h10: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    h11: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    h12: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    h13: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    h14: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    h15: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    h16: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    h17: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    h18: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    h19: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    h20: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    h21: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    h22: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    h23: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    __table_args__ = (
        Index("ix_ai_workspace_usage_granularity_bucket", "granularity", "bucket_start_ns"),
    )


class AiWorkspaceUsageError(Base):
    """Error kinds (`error.type`) per usage bucket: additive counts beside `ai_workspace_usage`."""

    __tablename__ = "ai_workspace_usage_errors"

    workspace_id: Mapped[str] = mapped_column(ID, primary_key=True)
    granularity: Mapped[Granularity] = mapped_column(_enum(Granularity), primary_key=True)
    bucket_start_ns: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    provider: Mapped[str] = mapped_column(NAME, primary_key=True)
    model: Mapped[str] = mapped_column(NAME, primary_key=True)
    operation: Mapped[str] = mapped_column(NAME, primary_key=True)
    error_type: Mapped[str] = mapped_column(NAME, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_ai_workspace_usage_errors_granularity_bucket", "granularity", "bucket_start_ns"),
    )


class AiErrorPattern(Base):
    """A recurring failure: same error class from the same provider and model."""

    __tablename__ = "ai_error_patterns"

    fingerprint: Mapped[str] = mapped_column(String(32), primary_key=True)
    category: Mapped[str] = mapped_column(NAME)
    error_type: Mapped[str] = mapped_column(NAME)
    provider: Mapped[str] = mapped_column(NAME)
    model: Mapped[str] = mapped_column(NAME)
    http_status: Mapped[int | None] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(BigInteger)
    first_seen_ns: Mapped[int] = mapped_column(BigInteger)
    last_seen_ns: Mapped[int] = mapped_column(BigInteger)
    example: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_ai_error_patterns_last_seen_ns", "last_seen_ns"),)


class AiPerformanceBaseline(Base):
    """Latency percentiles of a scope over a trailing window, recomputed by maintenance."""

    __tablename__ = "ai_performance_baselines"

    scope: Mapped[str] = mapped_column(String(256), primary_key=True)  # "model=gpt-4o"
    metric: Mapped[str] = mapped_column(NAME, primary_key=True)  # "duration_ms"
    window_s: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    p50: Mapped[float | None] = mapped_column(Float)
    p95: Mapped[float | None] = mapped_column(Float)
    p99: Mapped[float | None] = mapped_column(Float)
    mean: Mapped[float | None] = mapped_column(Float)
    sample_count: Mapped[int] = mapped_column(BigInteger)
    computed_at_ns: Mapped[int] = mapped_column(BigInteger)


class QueryAudit(Base):
    """Who asked what: every query, analyze and correlate call, denials included."""

    __tablename__ = "query_audit"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at_ns: Mapped[int] = mapped_column(BigInteger)
    request_id: Mapped[str | None] = mapped_column(ID)
    caller_key_id: Mapped[str | None] = mapped_column(ID)
    tenant: Mapped[str | None] = mapped_column(ID)
    workspace_id: Mapped[str | None] = mapped_column(ID)
    path: Mapped[str] = mapped_column(String(256))
    mode: Mapped[str | None] = mapped_column(String(32))
    logql: Mapped[str | None] = mapped_column(Text)
    bytes_processed: Mapped[int | None] = mapped_column(BigInteger)
    lines: Mapped[int | None] = mapped_column(BigInteger)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[AuditOutcome] = mapped_column(_enum(AuditOutcome))
    reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_query_audit_at_ns", "at_ns"),
        Index("ix_query_audit_caller_at", "caller_key_id", "at_ns"),
    )


class ApiKey(Base):
    """An API key: only its hash is stored. Empty `allowed_workspaces` means all."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    tenant: Mapped[str | None] = mapped_column(ID)
    allowed_workspaces: Mapped[list[str]] = mapped_column(JsonColumn)
    created_at_ns: Mapped[int] = mapped_column(BigInteger)
    revoked_at_ns: Mapped[int | None] = mapped_column(BigInteger)
    last_used_at_ns: Mapped[int | None] = mapped_column(BigInteger)


class IngestCheckpoint(Base):
    """How far a named ingest has read (Unix ns of the end of the last stored window)."""

    __tablename__ = "ingest_checkpoints"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    position_ns: Mapped[int] = mapped_column(BigInteger)
    updated_at_ns: Mapped[int] = mapped_column(BigInteger)


def table_of(model: type[Base]) -> Table:
    """The Core table of a model (typed as Table, which `__table__` is at run time)."""
    return cast(Table, model.__table__)
