"""Fixtures of the operations store: a migrated SQLite file and a migrated
PostgreSQL schema, each emptied before every test.

PostgreSQL is the real server at AILOGS_TEST_PG_URL (default 127.0.0.1:5432,
database `test`). Each test session gets its own schema
(`ailogs_test_<random>`, via the connection's search_path), migrated once and
dropped at the end, so nobody else's data in `test` is touched. Under CI=true a
missing PostgreSQL fails the tests; elsewhere they are skipped.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from ailogs.store import migrate
from ailogs.store.database import Database
from ailogs.store.models import Base
from tests.conftest import require_service

PG_URL = os.environ.get("AILOGS_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
TABLES = ", ".join(table.name for table in Base.metadata.sorted_tables)


async def _pg_reachable() -> bool:
    database = Database(PG_URL, connect_timeout_s=2.0)
    try:
        return await database.ping()
    finally:
        await database.dispose()


async def create_schema(schema: str) -> None:
    """Create an empty schema on the test server."""
    database = Database(PG_URL)
    try:
        async with database.engine.begin() as connection:
            await connection.execute(text(f"CREATE SCHEMA {schema}"))
    finally:
        await database.dispose()


async def drop_schema(schema: str) -> None:
    """Drop a schema and everything in it."""
    database = Database(PG_URL)
    try:
        async with database.engine.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    finally:
        await database.dispose()


async def _migrate(url: str, schema: str | None) -> None:
    database = Database(url, schema=schema)
    try:
        await migrate.upgrade(database)
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
def pg_available() -> bool:
    """Whether the test PostgreSQL answers."""
    return asyncio.run(_pg_reachable())


@pytest.fixture(scope="session")
def pg_schema(pg_available: bool) -> Iterator[str]:
    """A migrated schema private to this test session."""
    require_service(pg_available, f"PostgreSQL at {PG_URL}")
    schema = f"ailogs_test_{secrets.token_hex(4)}"
    asyncio.run(create_schema(schema))
    try:
        asyncio.run(_migrate(PG_URL, schema))
        yield schema
    finally:
        asyncio.run(drop_schema(schema))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies."""
    path = tmp_path_factory.mktemp("store") / "template.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}", None))
    return path


@pytest.fixture
async def pg_db(pg_schema: str) -> AsyncIterator[Database]:
    """The session's PostgreSQL schema, emptied."""
    database = Database(PG_URL, schema=pg_schema)
    async with database.engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {TABLES}"))
    yield database
    await database.dispose()


@pytest.fixture
async def sqlite_db(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    """A fresh migrated SQLite file."""
    path = tmp_path / "ailogs.db"
    shutil.copyfile(sqlite_template, path)
    database = Database(f"sqlite+aiosqlite:///{path}")
    yield database
    await database.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_db(request: pytest.FixtureRequest) -> Database:
    """The same test on SQLite and on PostgreSQL."""
    name = "sqlite_db" if request.param == "sqlite" else "pg_db"
    database: Database = request.getfixturevalue(name)
    return database
