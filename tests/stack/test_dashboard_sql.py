"""Every SQL query of the dashboards runs against the migrated PostgreSQL schema.

Grafana's macros and template variables are replaced by literals the way
Grafana's PostgreSQL datasource expands them, then each query is planned and
executed in a schema private to this test module (migrated with the real
Alembic migrations). Under CI=true a missing PostgreSQL fails instead of skipping.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from ailogs.store import migrate
from ailogs.store.database import Database
from tests.conftest import require_service
from tests.stack.design import ROOT

PG_URL = os.environ.get("AILOGS_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
FROM_NS, TO_NS = 1_795_600_000_000_000_000, 1_795_603_600_000_000_000
FROM_TS, TO_TS = "'2026-11-24T05:46:40Z'", "'2026-11-24T06:46:40Z'"
INTERVAL_S = 60
SELECTIONS = {
    "all": {"workspace": "'__all'", "model": "'__all'"},
    "some": {"workspace": "'ws-acme','ws-globex'", "model": "'gpt-4o'"},
}


def _args(inner: str) -> list[str]:
    depth, start, parts = 0, 0, []
    for i, char in enumerate(inner):
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(inner[start:i].strip())
            start = i + 1
    parts.append(inner[start:].strip())
    return parts


def _macro(name: str, args: list[str]) -> str:
    if name == "unixEpochNanoFilter":
        return f"{args[0]} >= {FROM_NS} AND {args[0]} <= {TO_NS}"
    if name == "unixEpochGroupAlias":
        return f'floor(({args[0]})/{INTERVAL_S})*{INTERVAL_S} AS "time"'
    if name == "timeFilter":
        return f"{args[0]} BETWEEN {FROM_TS} AND {TO_TS}"
    if name == "timeGroupAlias":
        return f'floor(extract(epoch from {args[0]})/{INTERVAL_S})*{INTERVAL_S} AS "time"'
    if name == "timeFrom":
        return FROM_TS
    if name == "timeTo":
        return TO_TS
    raise AssertionError(f"macro $__{name} is not substituted by this test")


def expand(sql: str, variables: dict[str, str]) -> str:
    """Grafana's macro and variable expansion, with literals."""
    out = sql
    while (match := re.search(r"\$__(\w+)\(", out)) is not None:
        depth, end = 1, match.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(out[end], 0)
            end += 1
        inner = out[match.end() : end - 1]
        out = out[: match.start()] + _macro(match.group(1), _args(inner)) + out[end:]
    out = out.replace("$__interval", f"'{INTERVAL_S}s'")
    for name, value in variables.items():
        out = re.sub(rf"\$\{{{name}(?::\w+)?\}}|\${name}\b", value, out)
    assert "$" not in out, out
    return out


def dashboard_sql() -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / "grafana" / "dashboards").glob("*.json")):
        dashboard: dict[str, Any] = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                if "rawSql" in target:
                    found.append((f"{dashboard['uid']}: {panel['title']}", target["rawSql"]))
        for variable in dashboard["templating"]["list"]:
            if variable.get("datasource", {}).get("uid") == "postgres":
                found.append((f"{dashboard['uid']}: ${variable['name']}", variable["query"]))
    return found


QUERIES = dashboard_sql()


async def _reachable() -> bool:
    database = Database(PG_URL, connect_timeout_s=2.0)
    try:
        return await database.ping()
    finally:
        await database.dispose()


async def _admin(statement: str) -> None:
    database = Database(PG_URL)
    try:
        async with database.engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await database.dispose()


async def _migrate(schema: str) -> None:
    database = Database(PG_URL, schema=schema)
    try:
        await migrate.upgrade(database)
    finally:
        await database.dispose()


@pytest.fixture(scope="module")
def schema() -> Iterator[str]:
    require_service(asyncio.run(_reachable()), f"PostgreSQL at {PG_URL}")
    name = f"ailogs_dash_{secrets.token_hex(4)}"
    asyncio.run(_admin(f"CREATE SCHEMA {name}"))
    try:
        asyncio.run(_migrate(name))
        yield name
    finally:
        asyncio.run(_admin(f"DROP SCHEMA IF EXISTS {name} CASCADE"))


async def _run(schema: str, statements: list[str]) -> list[list[str]]:
    database = Database(PG_URL, schema=schema)
    try:
        results = []
        async with database.engine.connect() as connection:
            for statement in statements:
                result = await connection.execute(text(statement))
                results.append(list(result.keys()))
        return results
    finally:
        await database.dispose()


def test_the_dashboards_have_sql_to_check() -> None:
    assert len(QUERIES) >= 10
    assert any("ai_operations" in sql for _, sql in QUERIES)
    assert any("ai_workspace_usage" in sql for _, sql in QUERIES)


@pytest.mark.parametrize("selection", sorted(SELECTIONS))
def test_every_dashboard_query_runs_on_the_migrated_schema(schema: str, selection: str) -> None:
    statements = [expand(sql, SELECTIONS[selection]) for _, sql in QUERIES]
    columns = asyncio.run(_run(schema, statements))
    for (where, sql), names in zip(QUERIES, columns, strict=True):
        if "$__unixEpochGroupAlias" in sql:
            assert names[0] == "time", where  # Grafana's time series format needs it first


def test_expansion_matches_grafana_for_nested_arguments() -> None:
    sql = "SELECT $__unixEpochGroupAlias(start_time_ns / 1000000000, $__interval) WHERE $model"
    assert expand(sql, {"model": "'x'"}) == (
        "SELECT floor((start_time_ns / 1000000000)/60)*60 AS \"time\" WHERE 'x'"
    )
