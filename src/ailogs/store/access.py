"""The `api_keys` and `query_audit` tables as the access-control service needs them.

`SqlApiKeyRepository` follows `services.api_keys.ApiKeyRepository`;
`SqlAuditSink` writes batches of `AuditEntry` rows for `services.audit`. Both open their
own short unit of work through `Database.session()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update

from ailogs.errors import DatabaseUnavailable
from ailogs.store.database import Database
from ailogs.store.enums import AuditOutcome
from ailogs.store.models import ApiKey, QueryAudit


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """What the store keeps of a key. Empty `workspaces` means every workspace."""

    key_id: str
    name: str
    key_hash: str
    tenant: str | None
    workspaces: tuple[str, ...]
    created_at_ns: int
    revoked_at_ns: int | None = None
    last_used_at_ns: int | None = None

    @property
    def active(self) -> bool:
        """True until the key is revoked."""
        return self.revoked_at_ns is None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited request: answered, failed or refused. Holds a key id, never a key."""

    at_ns: int
    path: str
    outcome: AuditOutcome
    reason: str | None = None
    key_id: str | None = None
    tenant: str | None = None
    workspace_id: str | None = None
    request_id: str | None = None
    mode: str | None = None
    logql: str | None = None
    bytes_processed: int | None = None
    lines: int | None = None
    latency_ms: float | None = None


def _missing_table(error: BaseException) -> bool:
    """True when the failure is an unmigrated schema rather than an unreachable server."""
    cause: BaseException | None = error
    while cause is not None:
        text = str(cause).lower()
        if "no such table" in text or ("relation" in text and "does not exist" in text):
            return True
        cause = cause.__cause__
    return False


def _record(row: ApiKey) -> ApiKeyRecord:
    return ApiKeyRecord(
        key_id=row.id,
        name=row.name,
        key_hash=row.key_hash,
        tenant=row.tenant,
        workspaces=tuple(row.allowed_workspaces or ()),
        created_at_ns=row.created_at_ns,
        revoked_at_ns=row.revoked_at_ns,
        last_used_at_ns=row.last_used_at_ns,
    )


class SqlApiKeyRepository:
    """API keys in the `api_keys` table (hashes only)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def get(self, key_id: str) -> ApiKeyRecord | None:
        """The key with this id, revoked or not."""
        async with self._database.session() as session:
            row = await session.get(ApiKey, key_id)
            return _record(row) if row is not None else None

    async def add(self, record: ApiKeyRecord) -> None:
        """Store a new key."""
        async with self._database.session() as session:
            session.add(
                ApiKey(
                    id=record.key_id,
                    name=record.name,
                    key_hash=record.key_hash,
                    tenant=record.tenant,
                    allowed_workspaces=list(record.workspaces),
                    created_at_ns=record.created_at_ns,
                    revoked_at_ns=record.revoked_at_ns,
                    last_used_at_ns=record.last_used_at_ns,
                )
            )

    async def revoke(self, key_id: str, *, at_ns: int) -> bool:
        """Mark a key revoked; False when no active key has this id."""
        async with self._database.session() as session:
            result = await session.execute(
                update(ApiKey)
                .where(ApiKey.id == key_id, ApiKey.revoked_at_ns.is_(None))
                .values(revoked_at_ns=at_ns)
            )
            return bool(getattr(result, "rowcount", 0))

    async def list_keys(self) -> Sequence[ApiKeyRecord]:
        """Every key, oldest first."""
        async with self._database.session() as session:
            rows = await session.scalars(select(ApiKey).order_by(ApiKey.created_at_ns, ApiKey.id))
            return [_record(row) for row in rows]

    async def count_active(self) -> int:
        """How many keys are not revoked (0 before the table exists: no key can)."""
        try:
            async with self._database.session() as session:
                count = await session.scalar(
                    select(func.count()).select_from(ApiKey).where(ApiKey.revoked_at_ns.is_(None))
                )
                return int(count or 0)
        except DatabaseUnavailable as exc:
            if _missing_table(exc):
                return 0
            raise

    async def touch(self, key_id: str, *, at_ns: int) -> None:
        """Record that a key was used."""
        async with self._database.session() as session:
            await session.execute(
                update(ApiKey).where(ApiKey.id == key_id).values(last_used_at_ns=at_ns)
            )


class SqlAuditSink:
    """Writes audited requests into `query_audit` (key id and reason, never a key)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def __call__(self, batch: Sequence[AuditEntry]) -> None:
        """Insert one batch of entries in one transaction."""
        if not batch:
            return
        async with self._database.session() as session:
            await session.execute(
                insert(QueryAudit),
                [
                    {
                        "at_ns": entry.at_ns,
                        "request_id": entry.request_id,
                        "caller_key_id": entry.key_id,
                        "tenant": entry.tenant,
                        "workspace_id": entry.workspace_id,
                        "path": entry.path,
                        "outcome": entry.outcome,
                        "reason": entry.reason,
                        "mode": entry.mode,
                        "logql": entry.logql,
                        "bytes_processed": entry.bytes_processed,
                        "lines": entry.lines,
                        "latency_ms": entry.latency_ms,
                    }
                    for entry in batch
                ],
            )
