"""The operations endpoints end to end: an app on a fresh SQLite store, Loki faked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI

from ailogs.api.app import create_app
from ailogs.settings import DatabaseSettings, LokiSettings, Settings
from tests.store.factories import record

LOKI_URL = "http://loki.test:3100"
PREFIX = "/api/v1/ai_logs"
HOUR_S = 3600


def settings_for(url: str) -> Settings:
    return Settings(
        loki=LokiSettings(url=LOKI_URL, retry_attempts=1, retry_budget_s=0.5),
        database=DatabaseSettings(url=url, migrate_on_start=True),
    )


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app: FastAPI = create_app(
        settings_for(f"sqlite+aiosqlite:///{tmp_path / 'api.db'}"), configure_logs=False
    )
    with respx.mock(base_url=LOKI_URL, assert_all_called=False) as loki:
        loki.get("/loki/api/v1/query").respond(
            json={
                "status": "success",
                "data": {
                    "resultType": "vector",
                    "result": [{"metric": {"service_name": "api"}, "value": [1, "42"]}],
                },
            }
        )
        loki.route(host="testserver").pass_through()
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                yield c


def recent(hours_ago: float, **fields: Any) -> dict[str, Any]:
    import time

    return record(ts=int((time.time() - hours_ago * HOUR_S) * 1e9), **fields)


async def test_a_batch_is_stored_once_and_bad_records_are_named(
    api: httpx.AsyncClient,
) -> None:
    batch = [
        recent(1, model="gpt-4o", duration_ms=100),
        recent(2, model="gpt-4o-mini", status="error", error_type="timeout"),
        recent(3, input_tokens=-5),
        "not a record",
        recent(4, duration_ms=10**9),
    ]
    first = await api.post(f"{PREFIX}/operations", json=batch)
    again = await api.post(f"{PREFIX}/operations", json={"operations": batch})

    assert first.status_code == 200
    body = first.json()
    assert (body["inserted"], body["duplicates"]) == (2, 0)
    assert [r["index"] for r in body["rejected"]] == [2, 3, 4]
    assert body["rejected"][0]["reason"].startswith("input_tokens:")
    assert again.json()["inserted"] == 0
    assert again.json()["duplicates"] == 2


async def test_more_than_1000_records_is_413(api: httpx.AsyncClient) -> None:
    response = await api.post(f"{PREFIX}/operations", json=[recent(1)] * 1001)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_summary_and_conversation_answer_in_the_design_shapes(
    api: httpx.AsyncClient,
) -> None:
    await api.post(
        f"{PREFIX}/operations",
        json=[
            recent(1, conversation_id="c-9", model="gpt-4o", duration_ms=120, seq=1),
            recent(2, conversation_id="c-9", model="gpt-4o", duration_ms=900, seq=2),
            recent(3, conversation_id="c-9", model="mystery-1", status="error", error_type="x"),
            recent(30, conversation_id="c-8", model="gpt-4o"),  # the previous day
        ],
    )
    summary = (await api.get(f"{PREFIX}/workspace/ws-1/summary?time_range=24h")).json()
    conversation = (await api.get(f"{PREFIX}/conversations/c-9")).json()
    metrics = (await api.get(f"{PREFIX}/metrics?time_range=24h")).json()

    assert summary["totals"]["requests"] == 3
    assert summary["totals"]["errors"] == 1
    assert summary["totals"]["unpriced"] == 1
    assert [m["model"] for m in summary["by_model"]] == ["gpt-4o", "mystery-1"]
    assert summary["by_model"][0]["p50_ms"] is not None
    assert summary["trend"]["previous"]["requests"] == 1
    assert conversation["operations"] == 3
    assert conversation["models"] == ["gpt-4o", "mystery-1"]
    assert len(conversation["timeline"]) == 3
    assert set(conversation) >= {"started_at", "last_activity_at", "cost_usd", "errors"}
    assert metrics["totals"]["requests"] == 3
    assert metrics["services"]["services"][0]["service"] == "api"


async def test_unknown_ids_are_404_with_their_codes(api: httpx.AsyncClient) -> None:
    conversation = await api.get(f"{PREFIX}/conversations/nope")
    workspace = await api.get(f"{PREFIX}/workspace/nope/summary")

    assert conversation.status_code == 404
    assert conversation.json()["error"]["code"] == "CONVERSATION_NOT_FOUND"
    assert workspace.status_code == 404
    assert workspace.json()["error"]["code"] == "WORKSPACE_NOT_FOUND"


async def test_a_database_that_is_down_answers_503() -> None:
    app = create_app(
        settings_for("postgresql+asyncpg://postgres@127.0.0.1:1/none"), configure_logs=False
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            response = await c.post(f"{PREFIX}/operations", json=[recent(1)])
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
