"""Wiring of the operations store into the app: one Database, the price table,
migrations at start-up and the background ingest worker.

`install_store` runs in `build_runtime` (builds adapters, registers health and
closers); `start_store` runs in the lifespan once the event loop is live.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ailogs.api.runtime import Runtime
from ailogs.domain import parse_duration_ns
from ailogs.errors import DatabaseUnavailable
from ailogs.services.ingest_worker import IngestWorker, LokiOperationSource, WorkerConfig
from ailogs.services.pricing import PriceTable, find_prices
from ailogs.settings import Settings
from ailogs.store import migrate
from ailogs.store.database import Database, is_unavailable
from ailogs.store.operation_store import SqlOperationStore

log = logging.getLogger(__name__)


def database_from(settings: Settings) -> Database:
    """The store's Database built from the database settings."""
    return Database(
        settings.database.url, schema=settings.database.schema_name, echo=settings.database.echo
    )


def worker_config(settings: Settings) -> WorkerConfig:
    """Ingest worker timing from the ingest and Loki settings."""
    ingest = settings.ingest
    return WorkerConfig(
        lookback_ns=settings.loki.ingestion_delay_s * 1_000_000_000,
        initial_lookback_ns=parse_duration_ns(ingest.initial_lookback),
        chunk_ns=parse_duration_ns(ingest.chunk),
        buffer_max=ingest.buffer_max,
        interval_s=ingest.interval_s,
    )


def install_store(runtime: Runtime) -> None:
    """Build the Database and the price table once; close the engine at shutdown."""
    settings = runtime.settings
    runtime.database = database_from(settings)
    runtime.prices = PriceTable.load(find_prices(settings.ingest.prices_path))
    runtime.closers.append(runtime.database.dispose)
    database = runtime.database

    async def database_health() -> dict[str, Any]:
        up = await database.ping()
        return {"status": "up" if up else "down", "dialect": database.dialect}

    runtime.health_checks["database"] = database_health


async def start_store(runtime: Runtime) -> None:
    """Migrate when configured, and start the ingest worker when enabled."""
    settings = runtime.settings
    database, prices = runtime.database, runtime.prices
    if database is None or prices is None:
        return
    if settings.database.migrate_on_start:
        try:
            await migrate.upgrade(database)
        except Exception as exc:
            if not (is_unavailable(exc) or isinstance(exc, DatabaseUnavailable)):
                raise
            # Serve anyway: Loki answers still work, store routes answer 503.
            log.error("database unavailable at start-up; migrations not applied: %s", exc)
    if not settings.ingest.enabled:
        return
    worker = IngestWorker(
        source=LokiOperationSource(runtime.loki, tenant=settings.loki.tenant),
        store=SqlOperationStore(database),
        prices=prices,
        config=worker_config(settings),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run_forever(stop), name="ailogs-ingest")

    async def stop_worker() -> None:
        stop.set()
        await task

    runtime.closers.append(stop_worker)
