"""Alembic environment of the operations store.

Two ways in: `ailogs migrate` (and the app at start-up) hand over an open
connection in `config.attributes["connection"]`; the plain `alembic` command
builds an async engine from AILOGS_DATABASE_URL and runs the same migrations
through `run_sync`.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from ailogs.store.models import Base

config = context.config
target_metadata = Base.metadata
DEFAULT_URL = "sqlite+aiosqlite:///./ailogs.db"


def _url() -> str:
    return (
        config.attributes.get("url")
        or os.environ.get("AILOGS_DATABASE_URL")
        or config.get_main_option("sqlalchemy.url")
        or DEFAULT_URL
    )


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_url())
    async with engine.begin() as connection:
        await connection.run_sync(_configure)
    await engine.dispose()


def run_offline() -> None:
    """Emit the SQL instead of running it (`alembic upgrade head --sql`)."""
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
elif (shared := config.attributes.get("connection")) is not None:
    _configure(shared)
else:
    asyncio.run(_run_async())
