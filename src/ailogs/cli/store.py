"""`ailogs migrate`, `ailogs ingest` and `ailogs maintenance`: the operations store."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from ailogs.cli.base import app, settings_or_exit
from ailogs.settings import Settings
from ailogs.store.database import Database


def database_from(settings: Settings) -> Database:
    """The store's Database built from settings (the one place that reads them)."""
    return Database(
        settings.database.url,
        schema=settings.database.schema_name,
        echo=settings.database.echo,
    )


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision (default: head).")] = "head",
    down: Annotated[bool, typer.Option("--down", help="Downgrade to REVISION instead.")] = False,
) -> None:
    """Apply the SQL schema migrations to AILOGS_DATABASE_URL."""
    from ailogs.store import migrate as migrations

    settings = settings_or_exit()

    async def run() -> str | None:
        database = database_from(settings)
        try:
            if down:
                await migrations.downgrade(database, revision)
            else:
                await migrations.upgrade(database, revision)
            return await migrations.current_revision(database)
        finally:
            await database.dispose()

    current = asyncio.run(run())
    typer.echo(f"database at revision {current or 'base'}")
