"""An app pointed at a respx-served Loki, driven through the ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import respx
from fastapi import FastAPI

from ailogs.api.app import create_app
from ailogs.settings import DatabaseSettings, LokiSettings, Settings

LOKI_URL = "http://loki.test:3100"


def make_settings(database: Path | None = None, **loki: object) -> Settings:
    """Settings for tests: fake Loki, quick retries, a throwaway SQLite file."""
    options: dict[str, object] = {"url": LOKI_URL, "tenant": "dev", "retry_budget_s": 1.0}
    options.update(loki)
    store = DatabaseSettings(
        url=f"sqlite+aiosqlite:///{database or ':memory:'}", migrate_on_start=False
    )
    return Settings(loki=LokiSettings(**options), database=store)  # type: ignore[arg-type]


@pytest.fixture
def loki() -> respx.MockRouter:
    """Routes for the fake Loki; unmatched requests fail the test."""
    with respx.mock(base_url=LOKI_URL, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[FastAPI]:
    """The app with its lifespan running (no migrations: these tests read Loki only)."""
    application = create_app(make_settings(tmp_path / "ailogs.db"), configure_logs=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def api(app: FastAPI, loki: respx.MockRouter) -> AsyncIterator[httpx.AsyncClient]:
    """A client speaking to the app in-process."""
    loki.route(host="testserver").pass_through()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
