"""Operations store: ai_* tables, rollups, query audit, API keys, ingest checkpoints.

Types mirror ailogs.store.columns: money is NUMERIC(20, 9) on PostgreSQL and
integer nano-dollars on SQLite; JSON is JSONB on PostgreSQL; times are integer
Unix nanoseconds.

Revision ID: 0001
Revises:
Create Date: 2026-11-21 10:03:57.604896
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

MONEY = sa.Numeric(20, 9).with_variant(sa.BigInteger(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "ai_conversations",
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("operations", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", MONEY, nullable=False),
        sa.Column("first_seen_ns", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_ai_conversations")),
    )
    op.create_index(
        "ix_ai_conversations_workspace_last",
        "ai_conversations",
        ["workspace_id", "last_seen_ns"],
        unique=False,
    )

    op.create_table(
        "ai_correlations",
        sa.Column("correlation_id", sa.String(length=64), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("operations", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", MONEY, nullable=False),
        sa.Column("duration_ms_sum", sa.Float(), nullable=False),
        sa.Column("first_seen_ns", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("correlation_id", name=op.f("pk_ai_correlations")),
    )
    op.create_index(
        "ix_ai_correlations_last_seen_ns", "ai_correlations", ["last_seen_ns"], unique=False
    )

    op.create_table(
        "ai_error_patterns",
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=128), nullable=False),
        sa.Column("error_type", sa.String(length=128), nullable=False),
        sa.Column("provider", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("first_seen_ns", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_ns", sa.BigInteger(), nullable=False),
        sa.Column("example", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_ai_error_patterns")),
    )
    op.create_index(
        "ix_ai_error_patterns_last_seen_ns", "ai_error_patterns", ["last_seen_ns"], unique=False
    )

    op.create_table(
        "ai_operations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("start_time_ns", sa.BigInteger(), nullable=False),
        sa.Column("trace_id", sa.String(length=64), nullable=True),
        sa.Column("span_id", sa.String(length=64), nullable=True),
        sa.Column("parent_span_id", sa.String(length=64), nullable=True),
        sa.Column("correlation_id", sa.String(length=64), nullable=True),
        sa.Column("conversation_id", sa.String(length=64), nullable=True),
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=128), nullable=False),
        sa.Column("operation", sa.String(length=128), nullable=False),
        sa.Column("provider", sa.String(length=128), nullable=False),
        sa.Column("request_model", sa.String(length=128), nullable=False),
        sa.Column("response_model", sa.String(length=128), nullable=True),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_read_tokens", sa.BigInteger(), nullable=False),
        sa.Column("reasoning_tokens", sa.BigInteger(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("ttft_ms", sa.Float(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("ok", "error", name="operationstatus", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("error_type", sa.String(length=128), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("cost_usd", MONEY, nullable=True),
        sa.Column(
            "cost_source",
            sa.Enum(
                "record", "computed", "unpriced", name="costsource", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("price_version", sa.String(length=32), nullable=True),
        sa.Column(
            "source",
            sa.Enum("api", "loki", name="operationsource", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("ingested_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("attributes", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_operations")),
    )
    op.create_index(
        "ix_ai_operations_conversation_time",
        "ai_operations",
        ["conversation_id", "start_time_ns"],
        unique=False,
    )
    op.create_index(
        "ix_ai_operations_start_time_ns", "ai_operations", ["start_time_ns"], unique=False
    )
    op.create_index(
        "ix_ai_operations_workspace_time",
        "ai_operations",
        ["workspace_id", "start_time_ns"],
        unique=False,
    )

    op.create_table(
        "ai_performance_baselines",
        sa.Column("scope", sa.String(length=256), nullable=False),
        sa.Column("metric", sa.String(length=128), nullable=False),
        sa.Column("window_s", sa.BigInteger(), nullable=False),
        sa.Column("p50", sa.Float(), nullable=True),
        sa.Column("p95", sa.Float(), nullable=True),
        sa.Column("p99", sa.Float(), nullable=True),
        sa.Column("mean", sa.Float(), nullable=True),
        sa.Column("sample_count", sa.BigInteger(), nullable=False),
        sa.Column("computed_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "scope", "metric", "window_s", name=op.f("pk_ai_performance_baselines")
        ),
    )
    op.create_table(
        "ai_workspace_usage",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column(
            "granularity",
            sa.Enum("hour", "day", name="granularity", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("bucket_start_ns", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("operation", sa.String(length=128), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cache_read_tokens", sa.BigInteger(), nullable=False),
        sa.Column("reasoning_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", MONEY, nullable=False),
        sa.Column("unpriced", sa.BigInteger(), nullable=False),
        sa.Column("duration_us_sum", sa.BigInteger(), nullable=False),
        sa.Column("duration_ms_max", sa.Float(), nullable=False),
        sa.Column("h00", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("h01", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("h02", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("h03", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("h04", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("h05", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("h06", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("h07", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("h08", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("h09", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("h10", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("h11", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("h12", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("h13", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("h14", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("h15", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("h16", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("h17", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("h18", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("h19", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("h20", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("h21", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("h22", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("h23", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint(
            "workspace_id",
            "granularity",
            "bucket_start_ns",
            "provider",
            "model",
            "operation",
            name=op.f("pk_ai_workspace_usage"),
        ),
    )
    op.create_index(
        "ix_ai_workspace_usage_granularity_bucket",
        "ai_workspace_usage",
        ["granularity", "bucket_start_ns"],
        unique=False,
    )

    op.create_table(
        "ai_workspace_usage_errors",
        sa.Column("workspace_id", sa.String(length=64), nullable=False),
        sa.Column(
            "granularity",
            sa.Enum("hour", "day", name="granularity", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("bucket_start_ns", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("operation", sa.String(length=128), nullable=False),
        sa.Column("error_type", sa.String(length=128), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "workspace_id",
            "granularity",
            "bucket_start_ns",
            "provider",
            "model",
            "operation",
            "error_type",
            name=op.f("pk_ai_workspace_usage_errors"),
        ),
    )
    op.create_index(
        "ix_ai_workspace_usage_errors_granularity_bucket",
        "ai_workspace_usage_errors",
        ["granularity", "bucket_start_ns"],
        unique=False,
    )

    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("key_hash", sa.String(length=128), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=True),
        sa.Column("allowed_workspaces", JSON, nullable=False),
        sa.Column("created_at_ns", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at_ns", sa.BigInteger(), nullable=True),
        sa.Column("last_used_at_ns", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "ingest_checkpoints",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("position_ns", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ingest_checkpoints")),
    )
    op.create_table(
        "query_audit",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at_ns", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("caller_key_id", sa.String(length=64), nullable=True),
        sa.Column("tenant", sa.String(length=64), nullable=True),
        sa.Column("workspace_id", sa.String(length=64), nullable=True),
        sa.Column("path", sa.String(length=256), nullable=False),
        sa.Column("mode", sa.String(length=32), nullable=True),
        sa.Column("logql", sa.Text(), nullable=True),
        sa.Column("bytes_processed", sa.BigInteger(), nullable=True),
        sa.Column("lines", sa.BigInteger(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum(
                "ok",
                "error",
                "bad_key",
                "wrong_workspace",
                "rate_limited",
                "too_expensive",
                name="auditoutcome",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_query_audit")),
    )
    op.create_index("ix_query_audit_at_ns", "query_audit", ["at_ns"], unique=False)
    op.create_index(
        "ix_query_audit_caller_at", "query_audit", ["caller_key_id", "at_ns"], unique=False
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_query_audit_caller_at", table_name="query_audit")
    op.drop_index("ix_query_audit_at_ns", table_name="query_audit")

    op.drop_table("query_audit")
    op.drop_table("ingest_checkpoints")
    op.drop_table("api_keys")
    op.drop_index(
        "ix_ai_workspace_usage_errors_granularity_bucket", table_name="ai_workspace_usage_errors"
    )

    op.drop_table("ai_workspace_usage_errors")
    op.drop_index("ix_ai_workspace_usage_granularity_bucket", table_name="ai_workspace_usage")

    op.drop_table("ai_workspace_usage")
    op.drop_table("ai_performance_baselines")
    op.drop_index("ix_ai_operations_workspace_time", table_name="ai_operations")
    op.drop_index("ix_ai_operations_start_time_ns", table_name="ai_operations")
    op.drop_index("ix_ai_operations_conversation_time", table_name="ai_operations")

    op.drop_table("ai_operations")
    op.drop_index("ix_ai_error_patterns_last_seen_ns", table_name="ai_error_patterns")

    op.drop_table("ai_error_patterns")
    op.drop_index("ix_ai_correlations_last_seen_ns", table_name="ai_correlations")

    op.drop_table("ai_correlations")
    op.drop_index("ix_ai_conversations_workspace_last", table_name="ai_conversations")

    op.drop_table("ai_conversations")
