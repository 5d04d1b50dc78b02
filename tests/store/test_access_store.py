"""API keys and denials in a real SQLite database built from the models."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from ailogs.store.access import ApiKeyRecord, AuditEntry, SqlApiKeyRepository, SqlAuditSink
from ailogs.store.database import Database
from ailogs.store.enums import AuditOutcome
from ailogs.store.models import Base, QueryAudit


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}")
    async with db.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield db
    await db.dispose()


def record(key_id: str, created: int, workspaces: tuple[str, ...] = ()) -> ApiKeyRecord:
    return ApiKeyRecord(key_id, f"name-{key_id}", f"hash-{key_id}", "acme", workspaces, created)


async def test_keys_round_trip_and_revoke(database: Database) -> None:
    repo = SqlApiKeyRepository(database)
    await repo.add(record("0000000000b2", 2, ("ws-1", "ws-2")))
    await repo.add(record("0000000000a1", 1))

    assert [k.key_id for k in await repo.list_keys()] == ["0000000000a1", "0000000000b2"]
    assert (await repo.get("0000000000b2")) == record("0000000000b2", 2, ("ws-1", "ws-2"))
    assert await repo.count_active() == 2

    assert await repo.revoke("0000000000a1", at_ns=5)
    assert not await repo.revoke("0000000000a1", at_ns=6)
    assert not await repo.revoke("ffffffffffff", at_ns=6)
    assert await repo.count_active() == 1
    revoked = await repo.get("0000000000a1")
    assert revoked is not None
    assert revoked.revoked_at_ns == 5

    await repo.touch("0000000000b2", at_ns=9)
    touched = await repo.get("0000000000b2")
    assert touched is not None
    assert touched.last_used_at_ns == 9
    assert await repo.get("missing") is None


async def test_denials_land_in_the_audit_table(database: Database) -> None:
    sink = SqlAuditSink(database)
    await sink(
        [
            AuditEntry(1, "/api/v1/ai_logs/query", AuditOutcome.BAD_KEY, "missing API key"),
            AuditEntry(2, "/stream", AuditOutcome.RATE_LIMITED, "rate limit exceeded", key_id="k1"),
        ]
    )

    async with database.session() as session:
        rows = (await session.scalars(select(QueryAudit).order_by(QueryAudit.at_ns))).all()
    assert [(r.caller_key_id, r.path, r.outcome, r.reason) for r in rows] == [
        (None, "/api/v1/ai_logs/query", AuditOutcome.BAD_KEY, "missing API key"),
        ("k1", "/stream", AuditOutcome.RATE_LIMITED, "rate limit exceeded"),
    ]
