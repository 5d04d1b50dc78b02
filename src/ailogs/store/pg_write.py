"""The PostgreSQL write path: one COPY and one statement per batch of operations.

The batch is COPYed (as text, `copy_text.py`) into a per-connection staging
table, then a single statement inserts the rows whose id is new (`ON CONFLICT
(id) DO NOTHING`) and, from exactly the rows it inserted (`RETURNING`), upserts
the hourly and daily usage, the usage error kinds, the conversations and the
correlations, each `GROUP BY` its key and `ORDER BY` it, so concurrent writers
lock rows in the same order. It answers how many rows were new and the ids of
the new failed ones, whose error patterns (fingerprinted in Python) are
upserted after it.

Everything runs in the caller's transaction, so a batch is stored with its
rollups or not at all. The rules are those of `rollups.py` (the SQLite path),
written in SQL; the store tests hold both dialects to the same recount.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from sqlalchemy.ext.asyncio import AsyncSession

from ailogs.store.bulk import stage_copy_text
from ailogs.store.columns import COST_SCALE
from ailogs.store.copy_text import COPY_COLUMNS, copy_text
from ailogs.store.enums import CostSource, Granularity, OperationStatus
from ailogs.store.histogram import BOUNDS_MS
from ailogs.store.models import HISTOGRAM_COLUMNS, AiOperation, table_of
from ailogs.store.records import DAY_NS, HOUR_NS, OPERATION_COLUMNS, NewOperation

# The staged cost is whole nano-dollars (a bigint); the statement turns it back
# into NUMERIC exactly.
_STAGE_TYPES = {"cost_nanos": "0::bigint"}

_ERROR = f"'{OperationStatus.ERROR.value}'"
_UNPRICED = f"'{CostSource.UNPRICED.value}'"
_USAGE_KEYS = ("workspace_id", "granularity", "bucket_start_ns", "provider", "model", "operation")
_USAGE_SUMS = (
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "reasoning_tokens",
    "cost_usd",
    "unpriced",
    "duration_us_sum",
)
# bisect_left(BOUNDS_MS, d), the histogram's `le` rule: the number of bounds
# below d. width_bucket counts thresholds <= its operand, so it is asked about
# -d against the negated bounds (the number of bounds >= d).
_NEGATED_BOUNDS = ", ".join(repr(-float(bound)) for bound in reversed(BOUNDS_MS))
_BUCKET = f"{len(BOUNDS_MS)} - width_bucket(-duration_ms, ARRAY[{_NEGATED_BOUNDS}]::float8[])"


def _thread_cte(name: str, table: str, key: str, *, durations: bool) -> str:
    """Upsert of conversation or correlation totals from the new rows."""
    sums = ["operations", "errors", "input_tokens", "output_tokens", "cost_usd"]
    select = [
        key,
        # A thread's workspace is set once; an empty id loses to a named one.
        "max(workspace_id)",
        "count(*)",
        f"count(*) FILTER (WHERE status = {_ERROR})",
        "sum(input_tokens)",
        "sum(output_tokens)",
        "coalesce(sum(cost_usd), 0)",
    ]
    if durations:
        sums.append("duration_ms_sum")
        select.append("sum(duration_ms)")
    select += ["min(start_time_ns)", "max(start_time_ns)"]
    columns = [key, "workspace_id", *sums, "first_seen_ns", "last_seen_ns"]
    updates = [f"{c} = t.{c} + EXCLUDED.{c}" for c in sums] + [
        "first_seen_ns = LEAST(t.first_seen_ns, EXCLUDED.first_seen_ns)",
        "last_seen_ns = GREATEST(t.last_seen_ns, EXCLUDED.last_seen_ns)",
    ]
    # Sorted bytewise, the order of the thread tables' key index: every writer
    # still locks the rows in one order, and the sort compares bytes instead of
    # calling the database's collation for each pair (ai_operations'
    # correlation_id, unlike the thread tables' keys, has that collation).
    return (
        f"{name} AS (INSERT INTO {table} AS t ({', '.join(columns)}) "
        f"SELECT {', '.join(select)} FROM new WHERE {key} IS NOT NULL "
        f'GROUP BY {key} ORDER BY {key} COLLATE "C" '
        f"ON CONFLICT ({key}) DO UPDATE SET {', '.join(updates)})"
    )


def _usage_ctes() -> list[str]:
    """Hourly and daily usage, and their error kinds, from the new rows.

    Two steps keep the histogram cheap: the new rows are grouped by hour key and
    duration bucket with plain aggregates, and only those (few) groups are
    pivoted into the h00..h23 columns. Days are summed from the hours.
    """
    hour = f"start_time_ns - start_time_ns % {HOUR_NS}"
    by_bucket = (
        "usage_by_bucket AS (SELECT workspace_id, "
        f"{hour} AS hour, provider, request_model AS model, operation, {_BUCKET} AS bucket, "
        f"count(*) AS requests, count(*) FILTER (WHERE status = {_ERROR}) AS errors, "
        "sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, "
        "sum(cache_read_tokens) AS cache_read_tokens, "
        "sum(reasoning_tokens) AS reasoning_tokens, coalesce(sum(cost_usd), 0) AS cost_usd, "
        f"count(*) FILTER (WHERE cost_source = {_UNPRICED}) AS unpriced, "
        # Whole microseconds, rounded half to even like Python's round().
        "sum(round(duration_ms * 1000)::bigint) AS duration_us_sum, "
        "max(duration_ms) AS duration_ms_max "
        "FROM new GROUP BY 1, 2, 3, 4, 5, 6)"
    )
    histogram = [
        f"coalesce(sum(requests) FILTER (WHERE bucket = {index}), 0) AS {column}"
        for index, column in enumerate(HISTOGRAM_COLUMNS)
    ]
    hours = (
        "usage_hours AS (SELECT workspace_id, hour, provider, model, operation, "
        + ", ".join(f"sum({name}) AS {name}" for name in _USAGE_SUMS)
        + ", max(duration_ms_max) AS duration_ms_max, "
        + ", ".join(histogram)
        + " FROM usage_by_bucket GROUP BY 1, 2, 3, 4, 5)"
    )
    measures = [*_USAGE_SUMS, *HISTOGRAM_COLUMNS]
    day_measures = [f"sum({name})" for name in measures]
    columns = [*_USAGE_KEYS, *measures, "duration_ms_max"]
    updates = [f"{c} = t.{c} + EXCLUDED.{c}" for c in measures] + [
        "duration_ms_max = GREATEST(t.duration_ms_max, EXCLUDED.duration_ms_max)"
    ]
    order = ", ".join(str(i) for i in range(1, len(_USAGE_KEYS) + 1))
    usage = (
        f"usage AS (INSERT INTO ai_workspace_usage AS t ({', '.join(columns)}) "
        f"SELECT workspace_id, '{Granularity.HOUR.value}', hour, provider, model, operation, "
        f"{', '.join(measures)}, duration_ms_max FROM usage_hours "
        "UNION ALL "
        f"SELECT workspace_id, '{Granularity.DAY.value}', hour - hour % {DAY_NS}, provider, "
        f"model, operation, {', '.join(day_measures)}, max(duration_ms_max) FROM usage_hours "
        f"GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY {order} "
        f"ON CONFLICT ({', '.join(_USAGE_KEYS)}) DO UPDATE SET {', '.join(updates)})"
    )
    errors = (
        "usage_errors AS (INSERT INTO ai_workspace_usage_errors AS t "
        f"({', '.join(_USAGE_KEYS)}, error_type, count) "
        "SELECT workspace_id, g.granularity, start_time_ns - start_time_ns % g.width, "
        "provider, request_model, operation, coalesce(error_type, 'unknown'), count(*) "
        f"FROM new CROSS JOIN (VALUES ('{Granularity.HOUR.value}', {HOUR_NS}::bigint), "
        f"('{Granularity.DAY.value}', {DAY_NS}::bigint)) AS g (granularity, width) "
        f"WHERE status = {_ERROR} GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7 "
        f"ON CONFLICT ({', '.join(_USAGE_KEYS)}, error_type) "
        "DO UPDATE SET count = t.count + EXCLUDED.count)"
    )
    return [by_bucket, hours, usage, errors]


_NEW_COLUMNS = (
    "id",
    "start_time_ns",
    "workspace_id",
    "conversation_id",
    "correlation_id",
    "provider",
    "request_model",
    "operation",
    "status",
    "error_type",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "reasoning_tokens",
    "cost_usd",
    "cost_source",
    "duration_ms",
)


@cache
def insert_and_roll_up_sql(stage: str) -> str:
    """The one statement of a batch, reading the staged rows from `stage`."""
    table = table_of(AiOperation).name
    names = ", ".join(OPERATION_COLUMNS)
    values = ", ".join(
        f"cost_nanos * 1e-{COST_SCALE}" if name == "cost_usd" else name
        for name in OPERATION_COLUMNS
    )
    new = (
        f"new AS (INSERT INTO {table} ({names}) SELECT {values} FROM {stage} "
        f"ON CONFLICT (id) DO NOTHING RETURNING {', '.join(_NEW_COLUMNS)})"
    )
    ctes = [
        new,
        *_usage_ctes(),
        _thread_cte("conversations", "ai_conversations", "conversation_id", durations=False),
        _thread_cte("correlations", "ai_correlations", "correlation_id", durations=True),
    ]
    return (
        "WITH "
        + ",\n".join(ctes)
        + f"\nSELECT count(*), array_agg(id) FILTER (WHERE status = {_ERROR}) FROM new"
    )


async def insert_and_roll_up(
    session: AsyncSession, ops: Sequence[NewOperation], text: bytes | None = None
) -> tuple[int, set[str]]:
    """Store the operations whose id is new with their rollups.

    `text` is `copy_text(ops)` when the caller has encoded it already (off the
    event loop). Returns (rows inserted, ids of the inserted operations that
    failed). `ops` must not repeat an id.
    """
    table = table_of(AiOperation)
    payload = copy_text(ops) if text is None else text
    driver, stage = await stage_copy_text(
        session, table, COPY_COLUMNS, payload, typed_as=_STAGE_TYPES
    )
    row = await driver.fetchrow(insert_and_roll_up_sql(stage))
    return int(row[0]), set(row[1] or ())
