"""Bulk statements the write path needs.

- `execute_upsert` (both dialects): `INSERT ... ON CONFLICT (keys) DO UPDATE`
  where each other column merges by a rule (add, max, min, keep the stored value).
- `insert_new` (SQLite): `INSERT ... ON CONFLICT (key) DO NOTHING RETURNING key`.
- `stage_rows` (PostgreSQL): COPY rows into a staging table; `stage_copy_text`
  streams lines already encoded as COPY text instead.

On PostgreSQL the rows are COPYed into a temporary staging table
shaped like the target, then ONE `INSERT ... SELECT ... FROM staging` runs,
through the asyncpg connection of the caller's transaction. COPY encodes rows
far cheaper than bound arrays (asyncpg checks every array element against
collection ABCs). The staging table is created once per connection and emptied
per use. SQLite uses SQLAlchemy's dialect inserts (executemany); the
operations themselves take `pg_write.py` on PostgreSQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import JSON, Table, func
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession


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


def _json_text(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _pg_rows(table: Table, columns: Sequence[str], rows: list[Any]) -> list[Any]:
    """Rows ready for COPY: JSON values as text (StrEnum members already are str)."""
    if len(columns) == 1:  # attrgetter / itemgetter of one name return the bare value
        rows = [(value,) for value in rows]
    json_at = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, JSON)]
    if not json_at:
        return rows
    converted: list[Any] = []
    for row in rows:
        values = list(row)
        for index in json_at:
            values[index] = _json_text(values[index])
        converted.append(values)
    return converted


async def _empty_stage(
    session: AsyncSession,
    table: Table,
    columns: Sequence[str],
    typed_as: Mapping[str, str] | None,
) -> tuple[Any, str]:
    """(the asyncpg connection of the session's transaction, an empty staging table).

    The staging columns take the target's column types, except those named in
    `typed_as` (column -> SQL expression of that type, e.g. `0::bigint`).
    """
    # One staging table per (table, column set), typed by the target's columns
    # (CREATE ... AS ... WITH NO DATA copies types, not constraints).
    typed_as = typed_as or {}
    digest = hashlib.blake2b(",".join(columns).encode(), digest_size=4).hexdigest()
    stage = f"stage_{table.name}_{digest}"
    select = ", ".join(f"{typed_as[c]} AS {c}" if c in typed_as else c for c in columns)
    # Through SQLAlchemy, so the session's transaction is begun (asyncpg's
    # adapter begins lazily): the COPY and the INSERT that follow belong to it.
    connection = await session.connection()
    await connection.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
        f"SELECT {select} FROM {table.name} WITH NO DATA"
    )
    await connection.exec_driver_sql(f"DELETE FROM {stage}")
    return await _driver(session), stage


async def stage_rows(
    session: AsyncSession,
    table: Table,
    columns: Sequence[str],
    rows: list[Any],
    *,
    typed_as: Mapping[str, str] | None = None,
) -> tuple[Any, str]:
    """COPY rows (values as COPY takes them) into an empty staging table.

    Returns (the asyncpg connection of the session's transaction, the staging
    table's name); `typed_as` as in `_empty_stage`.
    """
    driver, stage = await _empty_stage(session, table, columns, typed_as)
    await driver.copy_records_to_table(stage, records=rows, columns=list(columns))
    return driver, stage


async def stage_copy_text(
    session: AsyncSession,
    table: Table,
    columns: Sequence[str],
    text: bytes,
    *,
    typed_as: Mapping[str, str] | None = None,
) -> tuple[Any, str]:
    """COPY text-format lines (already encoded) into an empty staging table.

    Returns what `stage_rows` returns.
    """
    driver, stage = await _empty_stage(session, table, columns, typed_as)
    # A memoryview: asyncpg would take bytes for a file name.
    await driver.copy_to_table(stage, source=memoryview(text), columns=list(columns))
    return driver, stage


def _pg_insert_from(table: Table, columns: Sequence[str], stage: str) -> str:
    names = ", ".join(columns)
    return f"INSERT INTO {table.name} ({names}) SELECT {names} FROM {stage}"


async def insert_new(
    session: AsyncSession,
    table: Table,
    records: Sequence[Any],
    columns: Sequence[str],
    key: str = "id",
) -> list[Any]:
    """Insert records (objects whose attributes are named like `columns`) whose key is new.

    Returns the keys actually inserted (SQLite; PostgreSQL takes `pg_write.py`).
    """
    if not records:
        return []
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
        read = itemgetter(*columns)
        staged = _pg_rows(table, columns, [read(r) for r in upsert.rows])
        driver, stage = await stage_rows(session, table, columns, staged)
        sql = (
            f"{_pg_insert_from(table, columns, stage)} ON CONFLICT ({', '.join(upsert.keys)}) "
            f"DO UPDATE SET {', '.join(updates)}"
        )
        await driver.execute(sql)
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
