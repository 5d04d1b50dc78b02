"""The lines of a `/query` answer, shaped while Loki's values are read.

A row is `(timestamp_ns, line, metadata, entry, labels)`: the sort key, the texts
redaction probes, the public entry of DESIGN.md §4 (`LogRecord.to_entry`) ready
to encode, and the stream labels as a mapping (the entry holds them as JSON,
encoded once per stream rather than once per line). Shaping the entry as the line
is decoded spares a LogRecord per line and a second pass over them, on the path
every `/query` takes.

The common line (a JSON object whose service, level and message are plain text)
is shaped inline; any other goes through `make_record`, so one set of rules says
what a line means, and `records_of_rows` gives the same records to the analyses
that want them. Entries equal `LogRecord.to_entry`; only the key order of
`fields` may differ (the body's own order when it names all the metadata).

Where the native module is built (`_answer_rows.c`), a common JSON line is
checked rather than decoded, and its entry's `fields` is the line itself as an
`orjson.Fragment`: the answer carries the line's JSON as it came. `fields_of_row`
decodes it for the few rows that need it as data (redaction, analyses, cursors).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, cast

import orjson
from orjson import JSONDecodeError

from ailogs.domain import Direction, LogRecord, TimestampFormatter, make_record, parse_body

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
    """`stream_rows` in Python: the reference, and the path of the lines C leaves alone."""
    service_label = labels.get("service_name")
    level = labels.get("level")
    level_label = level.lower() if level else None
    if shown_labels is None:
        shown_labels = _Fragment(orjson.dumps(labels))
    values = list(values)
    timestamps = [int(value[0]) for value in values]
    rows: list[Row] = []
    append = rows.append
    for timestamp_ns, text, value in zip(timestamps, stamp.many(timestamps), values, strict=True):
        line = value[1]
        metadata = value[2].get("structuredMetadata") if len(value) > 2 and value[2] else None
        if line[:1] == "{":  # parse_body, inline for the common case
            try:
                body = _loads(line)
            except JSONDecodeError:
                body = None
        else:
            body = parse_body(line)
        if body is not None:
            # `make_record`'s rules, for the values they take as they are. The body wins
            # over metadata, so when it names all of it (metadata extracted from the
            # line, say), it is the fields as they are, in the line's order.
            fields = body
            if metadata:
                for name in metadata:
                    if name not in body or metadata.__class__ is not dict:
                        fields = {**metadata, **body}
                        break
            service = service_label or fields.get("service")
            level = level_label or fields.get("level")
            message = body.get("msg")
            if message is None or message == "":
                message = body.get("message")
            if message is None:
                message = line
            if (
                service.__class__ is str
                and service
                and level.__class__ is str
                and level
                and message.__class__ is str
            ):
                entry = {
                    "timestamp": text,
                    "service": service,
                    "level": level if level_label else level.lower(),
                    "message": message or line,
                    "labels": shown_labels,
                    "fields": fields,
                }
                append((timestamp_ns, line, metadata or None, entry, labels))
                continue
        record = make_record(timestamp_ns, line, labels, metadata, body)
        append(row_of(record, text, shown_labels))
    return rows


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
