"""Engine and session factory, built from a URL given to the constructor.

`Database.session()` is the unit of work: it commits on success, rolls back on
error, and turns "cannot reach the database" into `errors.DatabaseUnavailable`.
Repositories and services only `flush()`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from ailogs.errors import DatabaseUnavailable

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# Failures that mean "the database is not there", as opposed to a bug in a statement.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    exc.OperationalError,
    exc.InterfaceError,
    exc.TimeoutError,
    ConnectionError,
    OSError,
    TimeoutError,
)


def is_unavailable(error: BaseException) -> bool:
    """True when an exception means the database cannot be reached or is locked."""
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, UNAVAILABLE_ERRORS)


class Database:
    """One async engine and its session factory.

    `schema` (PostgreSQL only) sets the connection's `search_path`, which is how
    tests and side-by-side deployments keep their tables apart in one database.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        echo: bool = False,
        pool_size: int = 10,
        connect_timeout_s: float = 5.0,
    ) -> None:
        parsed = make_url(url)
        self.url = url
        self.dialect = parsed.get_backend_name()
        self.schema = schema
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise ValueError(f"invalid schema name: {schema!r}")
        options: dict[str, Any] = {"echo": echo, "pool_pre_ping": True}
        if self.dialect == "postgresql":
            connect_args: dict[str, Any] = {"timeout": connect_timeout_s}
            if schema is not None:
                connect_args["server_settings"] = {"search_path": schema}
            options.update(connect_args=connect_args, pool_size=pool_size, max_overflow=pool_size)
        elif self.dialect == "sqlite":
            options["connect_args"] = {"timeout": connect_timeout_s}
        self.engine: AsyncEngine = create_async_engine(url, **options)
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commit on success, roll back on error."""
        try:
            async with self.sessions() as session, session.begin():
                yield session
        except BaseException as error:
            if is_unavailable(error):
                raise DatabaseUnavailable("the operations database is unavailable") from error
            raise

    async def ping(self) -> bool:
        """True when a trivial query succeeds."""
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers run beside the single writer; busy_timeout waits for the lock.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
