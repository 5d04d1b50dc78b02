"""Answer rows say exactly what records and their entries say, whatever the line."""

from __future__ import annotations

import os
from typing import Any

import orjson
from hypothesis import example, given
from hypothesis import strategies as st

from ailogs.answer_rows import (
    NATIVE_ROWS,
    entry_of_row,
    fields_of_row,
    records_of_rows,
    sort_rows,
    stream_rows,
    tail_rows,
)
from ailogs.domain import Direction, TimestampFormatter, stream_records

TS = 1795252947057639339

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "ERROR", "Warn", "api", "request done", 'quo"te \\ é', "x\ny"]),
)
_values = st.one_of(_scalars, st.lists(_scalars, max_size=2), st.dictionaries(st.text(), _scalars))
_bodies = st.dictionaries(
    st.sampled_from(["msg", "message", "level", "service", "trace_id", "k", "n"]), _values
).map(lambda body: orjson.dumps(body).decode())
_lines = st.one_of(
    _bodies,
    _bodies.map(lambda line: "  " + line),
    _bodies.map(lambda line: line[:-1]),  # cut short: not JSON
    st.sampled_from(["", "plain ERROR text", "[1, 2]", "{", " ", "{}", '{"msg": null}']),
    st.text(max_size=30),
)
_metadata = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(["trace_id", "k", "level", "msg"]), st.text(max_size=5)),
)
_labels = st.fixed_dictionaries(
    {},
    optional={
        "service_name": st.sampled_from(["", "api", "worker"]),
        "level": st.sampled_from(["", "Info", "ERROR"]),
        "job": st.just("app"),
    },
)


def _value(ts: int, line: str, metadata: dict[str, str] | None) -> list[Any]:
    if metadata is None:
        return [str(ts), line]
    return [str(ts), line, {"structuredMetadata": metadata, "parsed": {"p": "q"}}]


@example(
    {"service_name": "api", "level": "Info"},
    [(TS, '{"msg": "a", "level": "error"}', {"trace_id": "t"}), (TS, "plain", None)],
)
@example({}, [(TS, '{"msg": 42, "level": 7}', None), (5, '{"msg": "", "message": "m"}', {})])
@given(
    _labels,
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=4_102_444_800 * 10**9), _lines, _metadata),
        max_size=8,
    ),
)
def test_rows_are_the_records_and_entries_of_the_same_values(
    labels: dict[str, str], lines: list[tuple[int, str, dict[str, str] | None]]
) -> None:
    values = [_value(ts, line, metadata) for ts, line, metadata in lines]
    records = stream_records(labels, values)

    rows = stream_rows(labels, values, TimestampFormatter())

    assert list(map(entry_of_row, rows)) == [record.to_entry() for record in records]
    assert [row[:3] for row in rows] == [(r.timestamp_ns, r.line, r.metadata) for r in records]
    # The entry as encoded (labels JSON already, fields perhaps the line's own JSON)
    # reads as the plain entry.
    encoded = [orjson.loads(orjson.dumps(row[3])) for row in rows]
    assert encoded == [orjson.loads(orjson.dumps(r.to_entry())) for r in records]
    assert records_of_rows(rows) == records
    assert [r.metadata for r in records_of_rows(rows)] == [r.metadata for r in records]


def test_a_row_holds_the_public_entry() -> None:
    labels = {"service_name": "api", "level": "Info"}
    line = '{"msg": "done", "trace_id": "body"}'
    [row] = stream_rows(
        labels, [[str(TS), line, {"structuredMetadata": {"trace_id": "m", "k": "v"}}]],
        TimestampFormatter(),
    )  # fmt: skip
    assert row[:3] == (TS, line, {"trace_id": "m", "k": "v"})
    assert row[4] is labels
    assert entry_of_row(row) == {
        "timestamp": "2026-11-21T09:22:27.057639339Z",
        "service": "api",
        "level": "info",
        "message": "done",
        "labels": labels,
        "fields": {"trace_id": "body", "k": "v", "msg": "done"},
    }


def test_sorting_keeps_the_order_of_lines_at_one_nanosecond() -> None:
    labels = {"service_name": "api"}
    stamp = TimestampFormatter()
    first = stream_rows(labels, [[str(TS), "a"], [str(TS), "b"], [str(TS - 5), "c"]], stamp)
    second = stream_rows(labels, [[str(TS + 1), "d"], [str(TS), "e"]], stamp)
    rows = first + second

    def lines(direction: Direction) -> list[str]:
        return [row[1] for row in sort_rows(rows, direction)]

    assert lines(Direction.BACKWARD) == ["d", "a", "b", "e", "c"]
    assert lines(Direction.FORWARD) == ["c", "a", "b", "e", "d"]


def test_metadata_the_body_already_names_leaves_the_fields_in_the_line_order() -> None:
    labels = {"service_name": "api", "level": "info"}
    line = '{"msg": "done", "trace_id": "body", "n": 1}'
    values = [
        [str(TS), line, {"structuredMetadata": {"trace_id": "meta"}}],
        [str(TS), line, {"structuredMetadata": {"trace_id": "meta", "pod": "p-1"}}],
    ]
    named, extra = map(fields_of_row, stream_rows(labels, values, TimestampFormatter()))
    assert list(named.items()) == [("msg", "done"), ("trace_id", "body"), ("n", 1)]
    assert named == stream_records(labels, values)[0].fields
    assert extra == {"pod": "p-1", "msg": "done", "trace_id": "body", "n": 1}


def test_the_tail_is_the_run_of_rows_at_the_last_timestamp() -> None:
    stamp = TimestampFormatter()
    rows = stream_rows({}, [[str(TS + n), f"l{i}"] for i, n in enumerate([2, 1, 1, 0, 0])], stamp)
    assert [row[1] for row in tail_rows(rows)] == ["l3", "l4"]
    assert [row[1] for row in tail_rows(rows[:3])] == ["l1", "l2"]
    assert [row[1] for row in tail_rows(rows[:1])] == ["l0"]
    assert tail_rows([]) == []


def test_the_native_rows_are_built_in_ci() -> None:
    # Without a compiler Python shapes every line; CI has one, so a silent
    # fallback there would hide a broken build (and a slower /query).
    if os.environ.get("CI") == "true":
        assert NATIVE_ROWS
