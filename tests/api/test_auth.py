"""The door as a client meets it: keys, tenants, workspaces, rate limits, audit."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fastapi import FastAPI
from sqlalchemy import select

from ailogs.api.app import create_app
from ailogs.api.runtime import Runtime
from ailogs.services.api_keys import ApiKeyRecord, issue_key
from ailogs.settings import (
    AgentSettings,
    DatabaseSettings,
    LokiSettings,
    RateLimitSettings,
    Settings,
)
from ailogs.store.access import SqlApiKeyRepository
from ailogs.store.database import Database
from ailogs.store.enums import AuditOutcome
from ailogs.store.models import Base, QueryAudit
from tests.loki.test_client import recorded

LOKI_URL = "http://loki.test:3100"
QUERY = "/api/v1/ai_logs/query"
WINDOW = {"mode": "errors", "start": "2026-11-20T10:00:00Z", "end": "2026-11-20T11:00:00Z"}


async def make_database(path: Path) -> str:
    url = f"sqlite+aiosqlite:///{path}"
    database = Database(url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    await database.dispose()
    return url


def settings_for(database_url: str, **overrides: Any) -> Settings:
    options: dict[str, Any] = {
        "loki": LokiSettings(url=LOKI_URL, tenant="default-tenant", retry_budget_s=1.0),
        "database": DatabaseSettings(url=database_url, migrate_on_start=False),
        "rate_limit": RateLimitSettings(per_second=1000, burst=1000),
    }
    options.update(overrides)
    return Settings(**options)


class Door:
    """A running app, its runtime, a client, and a way to mint keys."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient, database_url: str) -> None:
        self.app = app
        self.client = client
        self.database_url = database_url

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    async def key(self, *, tenant: str | None = "acme", workspaces: tuple[str, ...] = ()) -> str:
        issued = issue_key()
        database = Database(self.database_url)
        await SqlApiKeyRepository(database).add(
            ApiKeyRecord(issued.key_id, "test", issued.key_hash, tenant, workspaces, time.time_ns())
        )
        await database.dispose()
        assert self.runtime.access is not None
        self.runtime.access.forget_cached_keys()
        return issued.token

    async def audit_rows(self) -> list[QueryAudit]:
        assert self.runtime.access is not None
        assert self.runtime.access.audit is not None
        await self.runtime.access.audit.flush()
        database = Database(self.database_url)
        async with database.session() as session:
            rows = list(await session.scalars(select(QueryAudit).order_by(QueryAudit.id)))
        await database.dispose()
        return rows

    async def denials(self) -> list[QueryAudit]:
        answered = (AuditOutcome.OK, AuditOutcome.ERROR)
        return [row for row in await self.audit_rows() if row.outcome not in answered]


@pytest.fixture
def loki() -> respx.MockRouter:
    with respx.mock(base_url=LOKI_URL, assert_all_called=False) as router:
        router.get("/loki/api/v1/query_range").mock(
            side_effect=lambda request: recorded("query_range_streams_categorized")
        )
        router.get("/ready").mock(return_value=httpx.Response(200, text="ready"))
        router.get("/loki/api/v1/index/stats").mock(
            return_value=httpx.Response(
                200, json={"streams": 1, "chunks": 1, "bytes": 4096, "entries": 10}
            )
        )
        router.route(host="testserver").pass_through()
        yield router


async def open_door(settings: Settings, database_url: str) -> AsyncIterator[Door]:
    app = create_app(settings, configure_logs=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Door(app, client, database_url)


@pytest.fixture
async def door(tmp_path: Path, loki: respx.MockRouter) -> AsyncIterator[Door]:
    url = await make_database(tmp_path / "door.db")
    async for opened in open_door(settings_for(url), url):
        yield opened


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_without_keys_the_api_is_open_on_loopback(door: Door) -> None:
    response = await door.client.get(QUERY, params=WINDOW)
    assert response.status_code == 200, response.text


async def test_once_a_key_exists_requests_without_it_are_401(door: Door) -> None:
    token = await door.key()

    missing = await door.client.get(QUERY, params=WINDOW)
    wrong = await door.client.get(QUERY, params=WINDOW, headers=bearer(token[:-4] + "AAAA"))

    for response in (missing, wrong):
        assert response.status_code == 401
        error = response.json()["error"]
        assert error["code"] == "UNAUTHORIZED"
        assert error["request_id"]
        assert token not in response.text
    rows = await door.denials()
    assert [(r.outcome, r.path) for r in rows] == [(AuditOutcome.BAD_KEY, QUERY)] * 2
    assert rows[1].caller_key_id == token.split("_")[1]
    assert all(token.split("_", 2)[2] not in (r.reason or "") for r in rows)


async def test_loki_is_asked_with_the_key_tenant(door: Door, loki: respx.MockRouter) -> None:
    token = await door.key(tenant="acme")

    response = await door.client.get(QUERY, params=WINDOW, headers=bearer(token))

    assert response.status_code == 200, response.text
    assert loki.calls.last.request.headers["X-Scope-OrgID"] == "acme"


async def test_a_tenants_cache_is_its_own(door: Door, loki: respx.MockRouter) -> None:
    acme, other = await door.key(tenant="acme"), await door.key(tenant="other")

    first = await door.client.get(QUERY, params=WINDOW, headers=bearer(acme))
    second = await door.client.get(QUERY, params=WINDOW, headers=bearer(other))

    assert (first.json()["stats"]["cache"], second.json()["stats"]["cache"]) == ("miss", "miss")
    tenants = {c.request.headers["X-Scope-OrgID"] for c in loki.calls}
    assert tenants == {"acme", "other"}
    assert loki.routes[0].call_count == 2


async def test_workspaces_outside_the_key_are_403(door: Door) -> None:
    token = await door.key(workspaces=("ws-1",))

    allowed = await door.client.get(
        QUERY, params={**WINDOW, "workspace_id": "ws-1"}, headers=bearer(token)
    )
    other = await door.client.get(
        QUERY, params={**WINDOW, "workspace_id": "ws-2"}, headers=bearer(token)
    )
    unnamed = await door.client.get(QUERY, params=WINDOW, headers=bearer(token))

    assert allowed.status_code == 200, allowed.text
    assert (other.status_code, unnamed.status_code) == (403, 403)
    assert other.json()["error"]["code"] == "FORBIDDEN"
    rows = await door.denials()
    assert [(r.outcome, r.workspace_id) for r in rows] == [
        (AuditOutcome.WRONG_WORKSPACE, "ws-2"),
        (AuditOutcome.WRONG_WORKSPACE, None),
    ]


async def test_past_the_burst_a_key_gets_429_with_retry_after(
    tmp_path: Path, loki: respx.MockRouter
) -> None:
    url = await make_database(tmp_path / "rl.db")
    settings = settings_for(url, rate_limit=RateLimitSettings(per_second=0.5, burst=2))
    async for door in open_door(settings, url):
        token = await door.key()
        statuses = [
            (await door.client.get(QUERY, params=WINDOW, headers=bearer(token))).status_code
            for _ in range(3)
        ]
        refused = await door.client.get(QUERY, params=WINDOW, headers=bearer(token))

        assert statuses == [200, 200, 429]
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 2
        assert refused.json()["error"]["code"] == "RATE_LIMITED"
        rows = await door.denials()
        assert {r.outcome for r in rows} == {AuditOutcome.RATE_LIMITED}
        assert rows[0].caller_key_id == token.split("_")[1]


async def test_anonymous_callers_are_limited_per_address(
    tmp_path: Path, loki: respx.MockRouter
) -> None:
    url = await make_database(tmp_path / "anon.db")
    settings = settings_for(url, rate_limit=RateLimitSettings(per_second=0.1, burst=1))
    async for door in open_door(settings, url):
        first = await door.client.get(QUERY, params=WINDOW)
        second = await door.client.get(QUERY, params=WINDOW)
        assert (first.status_code, second.status_code) == (200, 429)


async def test_without_keys_a_public_bind_refuses_everyone(
    tmp_path: Path, loki: respx.MockRouter
) -> None:
    url = await make_database(tmp_path / "public.db")
    async for door in open_door(settings_for(url, host="0.0.0.0"), url):
        refused = await door.client.get(QUERY, params=WINDOW)
        assert refused.status_code == 401
        assert "AILOGS_ALLOW_ANONYMOUS" in refused.json()["error"]["remediation"]
    allowed = settings_for(url, host="0.0.0.0", allow_anonymous=True)
    async for door in open_door(allowed, url):
        assert (await door.client.get(QUERY, params=WINDOW)).status_code == 200


async def test_health_and_metrics_report_the_cache_and_limits(door: Door) -> None:
    await door.client.get(QUERY, params=WINDOW)
    await door.client.get(QUERY, params=WINDOW)

    health = (await door.client.get("/api/v1/ai_logs/health")).json()["components"]
    metrics = (await door.client.get("/metrics")).text

    assert health["cache"]["status"] == "up"
    assert (health["cache"]["hits"], health["cache"]["misses"]) == (1, 1)
    assert health["rate_limit"]["backend"] == "local"
    assert 'ailogs_cache_hits_total{backend="memory"} 1.0' in metrics
    assert "ailogs_cache_bytes_read_total" in metrics


async def test_admin_invalidation_is_scoped_to_the_keys_tenant(door: Door) -> None:
    admin, reader = await door.key(tenant="acme"), await door.key(workspaces=("ws-1",))
    await door.client.get(QUERY, params=WINDOW, headers=bearer(admin))

    refused = await door.client.delete("/api/v1/ai_logs/admin/cache", headers=bearer(reader))
    other = await door.client.delete(
        "/api/v1/ai_logs/admin/cache", params={"tenant": "other"}, headers=bearer(admin)
    )
    done = await door.client.delete("/api/v1/ai_logs/admin/cache", headers=bearer(admin))
    again = await door.client.get(QUERY, params=WINDOW, headers=bearer(admin))

    assert (refused.status_code, other.status_code) == (403, 403)
    assert done.json()["deleted"] == 1
    assert again.json()["stats"]["cache"] == "miss"


async def test_every_query_is_audited_with_what_it_ran_and_who_asked(
    door: Door, loki: respx.MockRouter
) -> None:
    token = await door.key(tenant="acme", workspaces=("ws-1",))
    params = {**WINDOW, "workspace_id": "ws-1"}

    answered = await door.client.get(QUERY, params=params, headers=bearer(token))
    loki.get("/loki/api/v1/query_range").mock(return_value=httpx.Response(500, text="boom"))
    failed = await door.client.get(
        QUERY, params={**params, "start": "2026-11-20T09:00:00Z"}, headers=bearer(token)
    )
    refused = await door.client.get(QUERY, params=WINDOW, headers=bearer(token))

    assert (answered.status_code, failed.status_code, refused.status_code) == (200, 503, 403)
    rows = await door.audit_rows()
    assert [r.outcome for r in rows] == [
        AuditOutcome.OK,
        AuditOutcome.ERROR,
        AuditOutcome.WRONG_WORKSPACE,  # refused once, by the door, not again as an error
    ]
    ok, error = rows[0], rows[1]
    assert (ok.path, ok.mode, ok.workspace_id, ok.tenant) == (QUERY, "errors", "ws-1", "acme")
    assert ok.caller_key_id == token.split("_")[1]
    assert ok.logql is not None
    assert ok.logql.startswith("{")
    assert ok.lines == answered.json()["stats"]["returned"] > 0
    assert ok.latency_ms is not None
    assert ok.latency_ms > 0
    assert ok.request_id == answered.headers["x-request-id"]
    assert error.reason == failed.json()["error"]["code"]
    assert all(token.split("_", 2)[2] not in str(vars(row)) for row in rows)


async def test_analyze_and_correlate_calls_are_audited(door: Door) -> None:
    analyzed = await door.client.get("/api/v1/ai_logs/analyze", params=WINDOW)
    correlated = await door.client.get("/api/v1/ai_logs/correlate", params=WINDOW)
    await door.client.get("/api/v1/ai_logs/patterns")  # not a query: not audited

    assert (analyzed.status_code, correlated.status_code) == (200, 200)
    rows = await door.audit_rows()
    assert [(r.path, r.outcome) for r in rows] == [
        ("/api/v1/ai_logs/analyze", AuditOutcome.OK),
        ("/api/v1/ai_logs/correlate", AuditOutcome.OK),
    ]
    assert rows[0].lines == analyzed.json()["stats"]["lines"]
    assert rows[0].logql == analyzed.json()["logql"]


async def test_a_query_over_budget_is_audited_as_too_expensive(
    tmp_path: Path, loki: respx.MockRouter
) -> None:
    url = await make_database(tmp_path / "guard.db")
    settings = settings_for(url, agent=AgentSettings(query_budget_bytes=1000))
    async for door in open_door(settings, url):
        window = {"mode": "errors", "start": "2026-11-20T08:00:00Z", "end": "2026-11-20T11:00:00Z"}
        refused = await door.client.get(QUERY, params=window)

        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "QUERY_TOO_EXPENSIVE"
        [row] = await door.audit_rows()
        assert (row.outcome, row.reason) == (AuditOutcome.TOO_EXPENSIVE, "QUERY_TOO_EXPENSIVE")
