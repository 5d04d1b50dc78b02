"""BRIN index for ai_operations.start_time_ns on PostgreSQL (cheaper inserts).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 10:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Swap the B-tree time index for a BRIN one (PostgreSQL only)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_ai_operations_start_time_ns", table_name="ai_operations")
    op.create_index(
        "ix_ai_operations_start_time_ns",
        "ai_operations",
        ["start_time_ns"],
        postgresql_using="brin",
    )


def downgrade() -> None:
    """Back to the B-tree index."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_ai_operations_start_time_ns", table_name="ai_operations")
    op.create_index("ix_ai_operations_start_time_ns", "ai_operations", ["start_time_ns"])
