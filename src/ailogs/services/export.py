"""Streamed export of every line a query matches: ndjson, csv or json, constant memory.

Lines come from `PageReader` (loss-free, duplicate-free paging) one Loki page
at a time and leave as encoded bytes before the next page is read. The stream
always ends with a status, so a client can tell a complete export from one cut
by the line cap or by a Loki failure after the response had started:

- `ndjson`: one entry object per line; the last line is `{"_status": {...}}`
  (entries never have a `_status` key).
- `csv`: a header row `timestamp,service,level,message,labels,fields,line`
  (labels and fields as JSON objects, line the raw log line), one row per
  entry, and a last line `# status: {...}` (a comment: skip it with
  `pandas.read_csv(..., comment="#")` or by its leading `#`; no timestamp
  starts with `#`).
- `json`: `{"entries": [...], "status": {...}}`.

The status is `{"complete", "lines", "max_lines", "truncated", "requests",
"enumerated_timestamps", "incomplete_timestamps", "error"}`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

from ailogs.domain import (
    LogRecord,
    QuerySpec,
    TimestampFormatter,
    entries_of,
    records_of,
)
from ailogs.errors import AilogsError
from ailogs.loki.client import LokiClient
from ailogs.services.pager import PageReader, RawEntry, ReadStats
from ailogs.services.query import QueryScope

CSV_COLUMNS = ("timestamp", "service", "level", "message", "labels", "fields", "line")


class ExportFormat(StrEnum):
    """The encodings an export can stream."""

    NDJSON = "ndjson"
    CSV = "csv"
    JSON = "json"


MEDIA_TYPES = {
    ExportFormat.NDJSON: "application/x-ndjson",
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.JSON: "application/json",
}

LinesFilter = Callable[[Sequence[str]], list[str]]
# Masks structured metadata maps (`Redactor.redact_metadata`): it is not in the line.
MetadataFilter = Callable[[Sequence[Mapping[str, str] | None]], list[Mapping[str, str] | None]]


@dataclass(slots=True)
class ExportStatus:
    """The trailing status of an export."""

    max_lines: int
    lines: int = 0
    truncated: bool = False
    error: dict[str, str] | None = None

    def as_dict(self, stats: ReadStats) -> dict[str, Any]:
        """The status object written at the end of the stream."""
        return {
            "complete": self.error is None
            and not self.truncated
            and not stats.incomplete_timestamps,
            "lines": self.lines,
            "max_lines": self.max_lines,
            "truncated": self.truncated,
            "requests": stats.requests,
            "enumerated_timestamps": stats.enumerated_timestamps,
            "incomplete_timestamps": len(stats.incomplete_timestamps),
            "error": self.error,
        }


class _Encoder:
    """Turns batches of records into bytes for one format."""

    def __init__(self, fmt: ExportFormat) -> None:
        self.fmt = fmt
        self._stamp = TimestampFormatter()
        self._first = True
        self._option = orjson.OPT_APPEND_NEWLINE if fmt is ExportFormat.NDJSON else 0

    def header(self) -> bytes:
        if self.fmt is ExportFormat.CSV:
            return (",".join(CSV_COLUMNS) + "\r\n").encode()
        if self.fmt is ExportFormat.JSON:
            return b'{"entries":['
        return b""

    def batch(self, records: list[LogRecord]) -> bytes:
        dumps = orjson.dumps
        stamp = self._stamp
        if self.fmt is ExportFormat.CSV:
            buffer = io.StringIO()
            csv.writer(buffer).writerows(
                (
                    stamp(r.timestamp_ns),
                    r.service,
                    r.level,
                    r.message,
                    dumps(r.labels).decode(),
                    dumps(r.fields).decode(),
                    r.line,
                )
                for r in records
            )
            return buffer.getvalue().encode()
        option = self._option
        entries = [dumps(entry, option=option) for entry in entries_of(records)]
        if self.fmt is ExportFormat.NDJSON:
            return b"".join(entries)
        body = b",".join(entries)
        if self._first:
            self._first = False
            return body
        return b"," + body

    def trailer(self, status: dict[str, Any]) -> bytes:
        if self.fmt is ExportFormat.NDJSON:
            return orjson.dumps({"_status": status}) + b"\n"
        if self.fmt is ExportFormat.JSON:
            return b'],"status":' + orjson.dumps(status) + b"}"
        return b"# status: " + orjson.dumps(status) + b"\n"


async def open_export(
    spec: QuerySpec,
    logql: str,
    fmt: ExportFormat,
    *,
    loki: LokiClient,
    scope: QueryScope,
    max_lines: int,
    page_size: int,
    redact: LinesFilter | None = None,
    redact_metadata: MetadataFilter | None = None,
) -> AsyncIterator[bytes]:
    """Start an export: the first page is read now (so Loki errors are still HTTP errors).

    Returns the byte stream; it ends with the trailing status.
    """
    reader = PageReader(
        loki=loki,
        query=logql,
        window=spec.window,
        direction=spec.direction,
        tenant=scope.tenant,
        page_size=page_size,
        max_entries=scope.loki_max_entries,
    )
    batches = reader.read_raw()
    first = await anext(batches, None)
    return _stream(
        first, batches, reader, _Encoder(fmt), ExportStatus(max_lines), redact, redact_metadata
    )


async def _stream(
    first: list[RawEntry] | None,
    batches: AsyncIterator[list[RawEntry]],
    reader: PageReader,
    encoder: _Encoder,
    status: ExportStatus,
    redact: LinesFilter | None,
    redact_metadata: MetadataFilter | None = None,
) -> AsyncIterator[bytes]:
    yield encoder.header()
    try:
        batch = first
        while batch is not None:
            room = status.max_lines - status.lines
            if len(batch) > room:
                batch = batch[:room]
                status.truncated = True
            status.lines += len(batch)
            if batch:
                yield encoder.batch(_records(batch, redact, redact_metadata))
            if status.truncated:
                break
            batch = await anext(batches, None)
            if batch is not None and status.lines >= status.max_lines:
                status.truncated = True
                break
    except AilogsError as exc:
        status.error = {"code": exc.code.value, "message": exc.message}
    finally:
        await _close(batches)
    yield encoder.trailer(status.as_dict(reader.stats))


async def _close(batches: AsyncIterator[list[RawEntry]]) -> None:
    close = getattr(batches, "aclose", None)
    if close is not None:
        await close()


def _records(
    batch: list[RawEntry],
    redact: LinesFilter | None,
    redact_metadata: MetadataFilter | None = None,
) -> list[LogRecord]:
    """Records of a batch; lines are masked before parsing, so fields and message are too."""
    if redact is None:
        return records_of(batch)
    lines = redact([entry[2] for entry in batch])
    metadata: list[Mapping[str, str] | None] = [entry[3] for entry in batch]
    if redact_metadata is not None:
        metadata = redact_metadata(metadata)
    return records_of(
        (ts, labels, line, meta)
        for (ts, labels, _, _), line, meta in zip(batch, lines, metadata, strict=True)
    )
