"""The lines of a `/query` answer, shaped while Loki's values are read.

A row is `(timestamp_ns, line, metadata, entry, labels)`: the sort key, the texts
redaction probes, the public entry of DESIGN.md §4 (`LogRecord.to_entry`) ready
to encode, and the stream labels as a mapping (the entry holds them as JSON,
encoded once per stream rather than once per line).

A common JSON line (service, level and message plain text, its metadata named
in it) is checked by the native module (`_answer_rows.c`) rather than decoded,
and its entry's `fields` is the line itself as an `orjson.Fragment`: the answer
carries the line's JSON as it came, and no LogRecord is made for it. Every other
line, and every line where the module is not built, is a `stream_records` record,
so one set of rules says what a line means. `fields_of_row` decodes the line for
the few rows that need fields as data (redaction, analyses, cursors), and
`records_of_rows` gives the same records to the analyses that want them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, cast

import orjson

from ailogs.domain import Direction, LogRecord, TimestampFormatter, stream_records

Row = tuple[int, str, Mapping[str, str] | None, dict[str, Any], Mapping[str, str]]
_loads = orjson.loads
_Fragment = orjson.Fragment

NativeRows = Callable[..., tuple[list[Any], list[int]]]
native_json_rows: NativeRows | None
try:  # built by the package's build hook where a C compiler exists
    from ailogs._answer_rows import json_rows as native_json_rows
except ImportError:  # pragma: no cover - exercised where no compiler exists
    native_json_rows = None
NATIVE_ROWS = native_json_rows is not None


def stream_rows(
    labels: Mapping[str, str], values: Iterable[Sequence[Any]], stamp: TimestampFormatter
) -> list[Row]:
    """The rows of one Loki stream, `values` as Loki sends them (see `stream_records`).

    Common JSON lines go through the native module when it is built; the rest
    (and every line without it) through `python_stream_rows`.
    """
    values = values if values.__class__ is list else list(values)
    service_label = labels.get("service_name")
    level = labels.get("level")
    if native_json_rows is None or not (
        (service_label is None or service_label.__class__ is str)
        and (level is None or level.__class__ is str)
    ):
        return python_stream_rows(labels, values, stamp)
    shown_labels = _Fragment(orjson.dumps(labels))
    rows, left = native_json_rows(
        values, labels, shown_labels, service_label or None, level.lower() if level else None,
        _Fragment,
    )  # fmt: skip
    if left:
        others = python_stream_rows(labels, [values[i] for i in left], stamp, shown_labels)
        for index, row in zip(left, others, strict=True):
            rows[index] = row
    return rows


def python_stream_rows(
    labels: Mapping[str, str],
    values: Iterable[Sequence[Any]],
    stamp: TimestampFormatter,
    shown_labels: orjson.Fragment | None = None,
) -> list[Row]:
    """`stream_rows` in Python: the rows of `stream_records`, for the lines C leaves alone."""
    if shown_labels is None:
        shown_labels = _Fragment(orjson.dumps(labels))
    records = stream_records(labels, values)
    stamps = stamp.many([record.timestamp_ns for record in records])
    return [row_of(r, text, shown_labels) for r, text in zip(records, stamps, strict=True)]


def row_of(record: LogRecord, timestamp: str, shown_labels: orjson.Fragment) -> Row:
    """The row of a record whose timestamp reads `timestamp`, its labels encoded as given."""
    entry = {
        "timestamp": timestamp,
        "service": record.service,
        "level": record.level,
        "message": record.message,
        "labels": shown_labels,
        "fields": record.fields,
    }
    return (record.timestamp_ns, record.line, record.metadata, entry, record.labels)


def fields_of_row(row: Row) -> dict[str, Any]:
    """A row's fields as data: decoded from its line when the entry holds the line's JSON."""
    fields = row[3]["fields"]
    if fields.__class__ is _Fragment:
        # The native path took the line only as a JSON object with unique names.
        fields = _loads(row[1])
    return cast(dict[str, Any], fields)


def record_of_row(row: Row) -> LogRecord:
    """The record a row was shaped from."""
    timestamp_ns, line, metadata, entry, labels = row
    return LogRecord(
        timestamp_ns,
        line,
        entry["service"],
        entry["level"],
        entry["message"],
        labels,
        fields_of_row(row),
        metadata,
    )


def entry_of_row(row: Row) -> dict[str, Any]:
    """The public entry of a row as plain data (labels and fields mappings, not JSON)."""
    return {**row[3], "labels": row[4], "fields": fields_of_row(row)}


def tail_rows(rows: Sequence[Row]) -> Sequence[Row]:
    """The rows at the last timestamp of time-ordered rows: the run that ends them."""
    if not rows:
        return rows
    last = rows[-1][0]
    start = len(rows) - 1
    while start and rows[start - 1][0] == last:
        start -= 1
    return rows[start:]


def records_of_rows(rows: Iterable[Row]) -> list[LogRecord]:
    """The records of many rows, for the analyses of an answer."""
    return [record_of_row(row) for row in rows]


def sort_rows(rows: list[Row], direction: Direction) -> list[Row]:
    """Merge Loki's per-stream rows into one time order (newest first when backward).

    Stable: lines at one nanosecond keep Loki's order.
    """
    return sorted(rows, key=_TIMESTAMP, reverse=direction is Direction.BACKWARD)


_TIMESTAMP = itemgetter(0)
