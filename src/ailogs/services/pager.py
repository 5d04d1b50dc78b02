"""Loss-free, duplicate-free reading of a log query through Loki, page by page.

Loki returns at most `limit` entries per request, the earliest (forward) or
newest (backward) first, and many lines can share one nanosecond across
streams. Paging by "next start = last timestamp + 1" loses the lines that
share the page's last timestamp; "next start = last timestamp" repeats them.
This reader does neither:

- A full page is cut before its boundary timestamp T: lines strictly before T
  (forward) are complete and emitted; the next request starts at T, so every
  line at T is read again in full by a later page.
- A full page whose lines all share T cannot move past T that way. Those lines
  are enumerated exactly: one request for the single nanosecond [T, T+1) with
  Loki's maximum limit, and, when even that is full, `/series` for the streams
  alive at T and one request per stream for that nanosecond. Only a single
  stream holding more than the maximum lines at one nanosecond can still be
  incomplete; the reader counts those (`incomplete_timestamps`) instead of
  hiding them.

Lines are emitted in a total order: timestamp, then stream labels, then line
text (reversed for backward reads). That order makes a `Position` (boundary
timestamp plus how many lines at it were already read) exact, which is what
`/query` cursors carry.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import orjson

from ailogs.domain import Direction, LogRecord, TimeWindow, records_of
from ailogs.errors import LokiUnavailable
from ailogs.logql import quote_string
from ailogs.loki.client import LokiClient
from ailogs.loki.parse import load_json

# One line as Loki returned it: timestamp, stream labels, line, structured metadata.
# Records are built only for the lines a reader keeps (a full page is partly re-read).
RawEntry = tuple[int, dict[str, str], str, dict[str, str] | None]

_STREAM_QUERY_CONCURRENCY = 8


@dataclass(frozen=True, slots=True)
class Position:
    """Where a read resumes.

    Forward: lines at or after `timestamp_ns`; backward: lines at or before it.
    The first `skip` lines at exactly `timestamp_ns` (in the reader's order) were
    already read.
    """

    timestamp_ns: int
    skip: int = 0


@dataclass(slots=True)
class ReadStats:
    """What a read cost and whether anything could not be enumerated."""

    requests: int = 0
    lines: int = 0
    enumerated_timestamps: int = 0
    incomplete_timestamps: list[int] = field(default_factory=list)
    bytes_processed: int = 0


def split_selector(logql: str) -> tuple[str, str]:
    """Split a log query into its stream selector and the pipeline after it."""
    text = logql.lstrip()
    if not text.startswith("{"):
        raise ValueError("a log query starts with a stream selector")
    in_string = False
    escaped = False
    quote = ""
    for index, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                in_string = False
        elif char in '"`':
            in_string = True
            quote = char
        elif char == "}":
            return text[: index + 1], text[index + 1 :]
    raise ValueError("unterminated stream selector")


def exact_selector(labels: dict[str, str]) -> str:
    """A selector matching exactly one stream: every label by equality, every value escaped."""
    if not labels:
        raise ValueError("a stream needs at least one label")
    for name in labels:
        if not _is_label_name(name):
            raise ValueError(f"not a label name: {name!r}")
    return "{" + ", ".join(f"{k}={quote_string(v)}" for k, v in sorted(labels.items())) + "}"


_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _is_label_name(name: str) -> bool:
    return _LABEL_NAME.fullmatch(name) is not None


class _StreamKeys:
    """Sortable identities of streams, computed once per labels object."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[object, bytes]] = {}

    def key(self, labels: object) -> bytes:
        cached = self._by_id.get(id(labels))
        if cached is not None and cached[0] is labels:
            return cached[1]
        value = orjson.dumps(labels, option=orjson.OPT_SORT_KEYS)
        self._by_id[id(labels)] = (labels, value)
        return value


class PageReader:
    """Reads every line of one log query in a window exactly once, in a total order."""

    def __init__(
        self,
        *,
        loki: LokiClient,
        query: str,
        window: TimeWindow,
        direction: Direction,
        tenant: str | None,
        page_size: int,
        max_entries: int,
    ) -> None:
        self._loki = loki
        self._query = query
        self._selector, self._pipeline = split_selector(query)
        self._window = window
        self._direction = direction
        self._tenant = tenant
        self._page_size = max(1, min(page_size, max_entries))
        self._max_entries = max_entries
        self.stats = ReadStats()

    def _sorted(self, records: list[RawEntry]) -> list[RawEntry]:
        key = _StreamKeys().key
        records.sort(
            key=lambda r: (r[0], key(r[1]), r[2]),
            reverse=self._direction is Direction.BACKWARD,
        )
        return records

    async def _fetch(self, query: str, start_ns: int, end_ns: int, limit: int) -> list[RawEntry]:
        return (await self._fetch_page(query, start_ns, end_ns, limit)).entries()

    async def _fetch_page(self, query: str, start_ns: int, end_ns: int, limit: int) -> RawPage:
        self.stats.requests += 1
        body = await self._loki.query_range_body(
            query,
            start_ns=start_ns,
            end_ns=end_ns,
            limit=limit,
            direction=self._direction,
            tenant=self._tenant,
        )
        page = parse_raw_page(body)
        self.stats.bytes_processed += page.bytes_processed
        return page

    async def _enumerate(self, timestamp_ns: int, *, known_dense: bool = False) -> list[RawEntry]:
        """Every line at exactly one nanosecond."""
        self.stats.enumerated_timestamps += 1
        end = timestamp_ns + 1
        if not known_dense and self._page_size < self._max_entries:
            records = await self._fetch(self._query, timestamp_ns, end, self._max_entries)
            if len(records) < self._max_entries:
                return self._sorted(records)
        self.stats.requests += 1
        streams = await self._loki.series(
            [self._selector], start_ns=timestamp_ns, end_ns=end, tenant=self._tenant
        )
        gate = asyncio.Semaphore(_STREAM_QUERY_CONCURRENCY)

        async def one(labels: dict[str, str]) -> list[RawEntry]:
            async with gate:
                query = exact_selector(labels) + self._pipeline
                return await self._fetch(query, timestamp_ns, end, self._max_entries)

        results = await asyncio.gather(*(one(labels) for labels in streams))
        merged: list[RawEntry] = []
        for part in results:
            if len(part) >= self._max_entries:
                self.stats.incomplete_timestamps.append(timestamp_ns)
            merged.extend(part)
        return self._sorted(merged)

    async def read(self, position: Position | None = None) -> AsyncGenerator[list[LogRecord], None]:
        """Yield batches of LogRecords in order until the window is exhausted."""
        async with aclosing(self.read_raw(position)) as batches:
            async for batch in batches:
                yield records_of(batch)

    async def read_raw(
        self, position: Position | None = None
    ) -> AsyncGenerator[list[RawEntry], None]:
        """Yield batches of raw entries in order (records are built by the caller, if at all)."""
        forward = self._direction is Direction.FORWARD
        window = self._window
        if position is None:
            boundary = window.start_ns if forward else window.end_ns - 1
            skip = 0
        else:
            boundary, skip = position.timestamp_ns, position.skip
        # Dense: the last nanosecond read held a full page or more. Then the next
        # timestamp is found with a one-line probe and enumerated directly, instead of
        # reading a full page that would only tell us to enumerate it.
        dense = False
        while window.start_ns <= boundary < window.end_ns:
            start, end = (boundary, window.end_ns) if forward else (window.start_ns, boundary + 1)
            page = await self._fetch_page(self._query, start, end, 1 if dense else self._page_size)
            if not page.count:
                return
            lowest, highest = page.span()
            if dense:
                done = False
                enumerated = True
                last = lowest if forward else highest
            else:
                done = page.count < self._page_size
                enumerated = not done and lowest == highest
                last = highest if forward else lowest
            # A full page at one timestamp is re-read by stream: do not build its entries.
            records = [] if enumerated else self._sorted(page.entries())
            if done:
                batch = records
            elif enumerated:
                batch = await self._enumerate(last, known_dense=dense)
                dense = len(batch) >= self._page_size
            else:
                cut = len(records)
                while records[cut - 1][0] == last:
                    cut -= 1
                batch = records[:cut]
            if skip:
                batch = _skip_at(batch, boundary, skip)
                skip = 0
            if batch:
                self.stats.lines += len(batch)
                yield batch
            if done:
                return
            if enumerated:
                # Every line at `last` was read: move past it.
                boundary = last + 1 if forward else last - 1
            else:
                boundary = last


def _skip_at(batch: list[RawEntry], timestamp_ns: int, skip: int) -> list[RawEntry]:
    """Drop the first `skip` lines at `timestamp_ns` (they lead the batch in order)."""
    index = 0
    while index < len(batch) and index < skip and batch[index][0] == timestamp_ns:
        index += 1
    return batch[index:] if index else batch


@dataclass(frozen=True, slots=True)
class RawPage:
    """A `/query_range` streams answer, decoded but not yet turned into entries."""

    streams: list[tuple[dict[str, str], list[list[Any]]]]
    count: int
    bytes_processed: int = 0

    def span(self) -> tuple[int, int]:
        """Lowest and highest timestamp (Loki sorts each stream's values)."""
        ends = [int(v[0]) for _, values in self.streams if values for v in (values[0], values[-1])]
        return min(ends), max(ends)

    def entries(self) -> list[RawEntry]:
        """One tuple per line."""
        entries: list[RawEntry] = []
        append = entries.append
        for labels, values in self.streams:
            for value in values:
                meta = value[2].get("structuredMetadata") if len(value) > 2 and value[2] else None
                append((int(value[0]), labels, value[1], meta))
        return entries


def parse_raw_page(body: bytes) -> RawPage:
    """Decode a `/query_range` streams answer."""
    payload = load_json(body)
    data: Any = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict) or data.get("resultType") != "streams":
        raise LokiUnavailable("Loki answered a log query without a streams result")
    streams = [
        (stream.get("stream") or {}, stream.get("values") or [])
        for stream in data.get("result") or ()
    ]
    summary = (data.get("stats") or {}).get("summary") or {}
    return RawPage(
        streams,
        sum(len(values) for _, values in streams),
        int(summary.get("totalBytesProcessed", 0) or 0),
    )
