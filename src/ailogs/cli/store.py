"""`ailogs migrate`, `ailogs ingest` and `ailogs maintenance`: the operations store."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Annotated

import typer

from ailogs.cli.base import app, settings_or_exit
from ailogs.errors import AilogsError
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


@app.command()
def ingest(
    once: Annotated[
        bool, typer.Option("--once", help="Catch up to now, then exit (default: keep running).")
    ] = False,
) -> None:
    """Read ai.operation lines from Loki into the operations store, from the checkpoint."""
    from ailogs.collector import tune_for_service
    from ailogs.loki.client import LokiClient
    from ailogs.services.ingest_worker import IngestWorker, LokiOperationSource
    from ailogs.services.pricing import PriceTable, find_prices
    from ailogs.store.operation_store import SqlOperationStore

    settings = settings_or_exit()
    tune_for_service()  # a long-running worker, like `ailogs serve`

    async def run() -> None:
        from ailogs.api.store_wiring import worker_config

        database = database_from(settings)
        loki = LokiClient(
            settings.loki.url,
            tenant=settings.loki.tenant,
            timeout_s=settings.loki.timeout_s,
            connect_timeout_s=settings.loki.connect_timeout_s,
            retry_attempts=settings.loki.retry_attempts,
            retry_budget_s=settings.loki.retry_budget_s,
        )
        worker = IngestWorker(
            source=LokiOperationSource(loki, tenant=settings.loki.tenant),
            store=SqlOperationStore(database),
            prices=PriceTable.load(find_prices(settings.ingest.prices_path)),
            config=worker_config(settings),
        )
        try:
            if once:
                report = await worker.run_once()
                typer.echo(
                    f"read {report.fetched} lines in {report.windows} windows: "
                    f"{report.inserted} new, {report.duplicates} already stored, "
                    f"{report.rejected} rejected"
                )
            else:
                await worker.run_forever()
        finally:
            await loki.aclose()
            await database.dispose()

    try:
        asyncio.run(run())
    except AilogsError as exc:
        sys.stderr.write(f"ailogs: {exc.code.value}: {exc.message}\n")
        raise typer.Exit(code=1) from None


@app.command()
def maintenance() -> None:
    """Recompute performance baselines and apply retention (raw, hourly, daily)."""
    from ailogs.domain import parse_duration_ns
    from ailogs.store.maintenance import RetentionPolicy, run_maintenance

    settings = settings_or_exit()
    db = settings.database

    async def run() -> None:
        database = database_from(settings)
        try:
            async with database.session() as session:
                report = await run_maintenance(
                    session,
                    policy=RetentionPolicy(
                        db.raw_retention_days, db.hourly_retention_days, db.daily_retention_days
                    ),
                    baseline_window_ns=parse_duration_ns(db.baseline_window),
                    min_samples=db.baseline_min_samples,
                    now_ns=time.time_ns(),
                )
        finally:
            await database.dispose()
        typer.echo(
            f"baselines: {report.baselines_written} scopes written, "
            f"{report.baselines_skipped} below {db.baseline_min_samples} samples"
        )
        for table, count in report.deleted.items():
            typer.echo(f"retention: {table}: {count} rows deleted")

    try:
        asyncio.run(run())
    except AilogsError as exc:
        sys.stderr.write(f"ailogs: {exc.code.value}: {exc.message}\n")
        raise typer.Exit(code=1) from None
