"""Run the Alembic migrations from code: `ailogs migrate` and the app at start-up.

The migration scripts live in `migrations/` at the repository root; a built
wheel carries them as `ailogs/_migrations` (see pyproject.toml). They run on the
caller's engine through `run_sync`, so the same `Database` (URL, schema) that
serves requests is the one migrated.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from ailogs.store.database import Database

HEAD = "head"


def find_migrations() -> Path:
    """The directory holding env.py and versions/ (installed copy first, then the checkout)."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "_migrations", package.parents[1] / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError(
        "Alembic migrations not found: run from a checkout that has migrations/, "
        "or install the ailogs wheel (it ships them as ailogs/_migrations)"
    )


def alembic_config(script_location: Path | None = None) -> Config:
    """An Alembic configuration built in code (no alembic.ini needed)."""
    config = Config()
    config.set_main_option("script_location", str(script_location or find_migrations()))
    return config


async def upgrade(database: Database, revision: str = HEAD) -> None:
    """Migrate the database up to `revision` (default: the latest).

    On PostgreSQL with a configured schema, the schema is created first if missing.
    """
    if database.schema is not None and database.dialect == "postgresql":
        async with database.engine.begin() as connection:
            await connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {database.schema}"))
    await _run(database, "upgrade", revision)


async def downgrade(database: Database, revision: str) -> None:
    """Migrate the database down to `revision` (`base` removes every table)."""
    await _run(database, "downgrade", revision)


async def current_revision(database: Database) -> str | None:
    """The revision the database is at, or None before the first migration."""
    async with database.engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


async def _run(database: Database, direction: str, revision: str) -> None:
    config = alembic_config()

    def apply(connection: Connection) -> None:
        config.attributes["connection"] = connection
        if direction == "upgrade":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)

    async with database.engine.begin() as connection:
        await connection.run_sync(apply)
