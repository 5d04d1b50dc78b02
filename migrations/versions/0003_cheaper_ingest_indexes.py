"""Cheaper writes per ingested operation.

- `ai_operations`: drop `ix_ai_operations_workspace_time`. Workspace answers
  come from `ai_workspace_usage`; raw scans by workspace are time-bounded and
  take the BRIN time index. Each insert paid one more B-tree entry for it.
- `ai_conversations`: drop `ix_ai_conversations_workspace_last`, which no query
  reads; with no index on the columns an update changes, updates are HOT (no
  new index entries), helped by a fillfactor that leaves room on each page.
- `ai_correlations.last_seen_ns`: BRIN instead of B-tree on PostgreSQL (only
  retention reads it, by range; rows arrive roughly in time order).
- PostgreSQL: the keys ingest looks up (operation, conversation and correlation
  ids) compare bytewise (`COLLATE "C"`) rather than through the locale.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 11:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, column, type) of the keys compared bytewise on PostgreSQL.
_BYTEWISE_KEYS = (
    ("ai_operations", "id", "varchar(32)"),
    ("ai_operations", "conversation_id", "varchar(64)"),
    ("ai_conversations", "conversation_id", "varchar(64)"),
    ("ai_correlations", "correlation_id", "varchar(64)"),
)


def _is_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    """Drop the indexes ingest paid for without readers; BRIN and bytewise keys on PostgreSQL."""
    op.drop_index("ix_ai_operations_workspace_time", table_name="ai_operations")
    op.drop_index("ix_ai_conversations_workspace_last", table_name="ai_conversations")
    if not _is_postgresql():
        return
    op.drop_index("ix_ai_correlations_last_seen_ns", table_name="ai_correlations")
    op.create_index(
        "ix_ai_correlations_last_seen_ns",
        "ai_correlations",
        ["last_seen_ns"],
        postgresql_using="brin",
    )
    for table, column, kind in _BYTEWISE_KEYS:
        op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE {kind} COLLATE "C"')
    op.execute("ALTER TABLE ai_conversations SET (fillfactor = 70)")


def downgrade() -> None:
    """Back to revision 0002's indexes and collations."""
    if _is_postgresql():
        op.execute("ALTER TABLE ai_conversations RESET (fillfactor)")
        for table, column, kind in _BYTEWISE_KEYS:
            op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE {kind} COLLATE "default"')
        op.drop_index("ix_ai_correlations_last_seen_ns", table_name="ai_correlations")
        op.create_index("ix_ai_correlations_last_seen_ns", "ai_correlations", ["last_seen_ns"])
    op.create_index(
        "ix_ai_conversations_workspace_last",
        "ai_conversations",
        ["workspace_id", "last_seen_ns"],
        unique=False,
    )
    op.create_index(
        "ix_ai_operations_workspace_time",
        "ai_operations",
        ["workspace_id", "start_time_ns"],
        unique=False,
    )
