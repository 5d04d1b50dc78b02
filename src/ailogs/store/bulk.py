"""Bulk statements the write path needs, on both dialects.

- `insert_new`: `INSERT ... ON CONFLICT (key) DO NOTHING RETURNING key`.
- `execute_upsert`: `INSERT ... ON CONFLICT (keys) DO UPDATE` where each other
  column merges by a rule (add, max, min, keep the stored value).

On PostgreSQL both send ONE statement per batch whose parameters are column
arrays, `INSERT ... SELECT ... FROM unnest($1::text[], $2::int8[], ...)`,
through the asyncpg connection of the caller's transaction: no per-row
parameter binding, which is what makes >20k operations/s possible. SQLite
uses SQLAlchemy's dialect inserts (executemany).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

import orjson
from sqlalchemy import JSON, BigInteger, Float, Integer, Table, func
from sqlalchemy import Enum as SqlEnum
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ailogs.store.columns import Money


class Merge(StrEnum):
    """How an upsert combines a stored value with an incoming one."""

    ADD = "add"
    MAX = "max"
    MIN = "min"
    KEEP = "keep"


@dataclass(frozen=True, slots=True)
class Upsert:
    """Rows to merge into a table, keyed by its primary key."""

    table: Table
    keys: tuple[str, ...]
    rows: Sequence[Mapping[str, Any]]
    merge: Mapping[str, Merge]


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


async def _driver(session: AsyncSession) -> Any:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


def _pg_array_type(table: Table, name: str) -> tuple[str, str]:
    """(array element type, cast applied in the SELECT list)."""
    column_type = table.c[name].type
    if isinstance(column_type, Money):
        return "numeric", ""
    if isinstance(column_type, JSON):
        return "text", "::jsonb"
    if isinstance(column_type, BigInteger):
        return "int8", ""
    if isinstance(column_type, Integer):
        return "int4", ""
    if isinstance(column_type, Float):
        return "float8", ""
    return "text", ""


def _enum_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _json_text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _pg_unnest(table: Table, columns: Sequence[str]) -> str:
    arrays = []
    selects = []
    for index, name in enumerate(columns, start=1):
        element, cast = _pg_array_type(table, name)
        arrays.append(f"${index}::{element}[]")
        selects.append(f"u.{name}{cast}")
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"SELECT {', '.join(selects)} FROM unnest({', '.join(arrays)}) AS u({', '.join(columns)})"
    )


def _pg_arrays(table: Table, columns: Sequence[str], arrays: list[list[Any]]) -> list[list[Any]]:
    # One converter per column, chosen from its type, keeps the per-value cost low.
    converted = []
    for name, values in zip(columns, arrays, strict=True):
        column_type = table.c[name].type
        if isinstance(column_type, JSON):
            values = [_json_text(value) for value in values]
        elif isinstance(column_type, SqlEnum):
            values = [_enum_value(value) for value in values]
        converted.append(values)
    return converted


def _pg_columns(
    table: Table, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]
) -> list[list[Any]]:
    return _pg_arrays(table, columns, [[row[name] for row in rows] for name in columns])


async def insert_new(
    session: AsyncSession,
    table: Table,
    records: Sequence[Any],
    columns: Sequence[str],
    key: str = "id",
) -> list[Any]:
    """Insert records (objects whose attributes are named like `columns`) whose key is new.

    Returns the keys actually inserted. Reading attributes column by column
    avoids building a dict per row on the hot path.
    """
    if not records:
        return []
    if _dialect(session) == "postgresql":
        sql = f"{_pg_unnest(table, columns)} ON CONFLICT ({key}) DO NOTHING RETURNING {key}"
        arrays = [[getattr(record, name) for record in records] for name in columns]
        driver = await _driver(session)
        fetched = await driver.fetch(sql, *_pg_arrays(table, columns, arrays))
        return [row[0] for row in fetched]
    rows = [{name: getattr(record, name) for name in columns} for record in records]
    stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=[key])
    result = await session.execute(stmt.returning(table.c[key]), rows)
    return list(result.scalars())


_PG_MERGE = {
    Merge.ADD: "{t}.{c} + EXCLUDED.{c}",
    Merge.MAX: "GREATEST({t}.{c}, EXCLUDED.{c})",
    Merge.MIN: "LEAST({t}.{c}, EXCLUDED.{c})",
}


async def execute_upsert(session: AsyncSession, upsert: Upsert) -> None:
    """Merge rows into the table by the upsert's rules."""
    if not upsert.rows:
        return
    table = upsert.table
    columns = list(upsert.rows[0])
    if _dialect(session) == "postgresql":
        updates = [
            f"{name} = {_PG_MERGE[rule].format(t=table.name, c=name)}"
            for name, rule in upsert.merge.items()
            if rule is not Merge.KEEP
        ]
        sql = (
            f"{_pg_unnest(table, columns)} ON CONFLICT ({', '.join(upsert.keys)}) "
            f"DO UPDATE SET {', '.join(updates)}"
        )
        driver = await _driver(session)
        await driver.execute(sql, *_pg_columns(table, upsert.rows, columns))
        return
    stmt = sqlite.insert(table)
    excluded = stmt.excluded
    set_: dict[str, Any] = {}
    for name, rule in upsert.merge.items():
        stored, incoming = table.c[name], excluded[name]
        if rule is Merge.ADD:
            set_[name] = stored + incoming
        elif rule is Merge.MAX:
            set_[name] = func.max(stored, incoming)  # SQLite's two-argument max() is scalar
        elif rule is Merge.MIN:
            set_[name] = func.min(stored, incoming)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=list(upsert.keys), set_=set_), list(upsert.rows)
    )
