"""Domain objects shared by every layer: log records, query specs, windows.

Everything here is pure: no I/O, no settings, no framework. Parsing a JSON log
body counts as pure (it is a function of the text).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

import orjson

NS_PER_SECOND = 1_000_000_000
_loads = orjson.loads


class Mode(StrEnum):
    """The question an agent asks of `/query`."""

    TROUBLESHOOT = "troubleshoot"
    PERFORMANCE = "performance"
    ERRORS = "errors"
    AUDIT = "audit"
    CONVERSATION = "conversation"


class Direction(StrEnum):
    """Loki's sort order: `backward` is newest first."""

    FORWARD = "forward"
    BACKWARD = "backward"


class CacheStatus(StrEnum):
    """Where an answer came from."""

    HIT = "hit"
    MISS = "miss"
    STALE = "stale"
    BYPASS = "bypass"


# Severity rank of the level names applications write. Unknown levels rank as info.
LEVEL_RANK: Mapping[str, int] = {
    "trace": 0,
    "debug": 10,
    "info": 20,
    "notice": 25,
    "warn": 30,
    "warning": 30,
    "error": 40,
    "err": 40,
    "critical": 50,
    "crit": 50,
    "fatal": 50,
    "panic": 50,
    "alert": 50,
    "emerg": 50,
    "emergency": 50,
}
ERROR_RANK = LEVEL_RANK["error"]


def level_rank(level: str) -> int:
    """Severity rank of a level name (case-insensitive); unknown names rank as info."""
    return LEVEL_RANK.get(level.lower(), LEVEL_RANK["info"])


def is_error_level(level: str) -> bool:
    """True for error and anything more severe."""
    return level_rank(level) >= ERROR_RANK


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A half-open time interval [start, end) in Unix nanoseconds."""

    start_ns: int
    end_ns: int

    def __post_init__(self) -> None:
        if self.end_ns <= self.start_ns:
            raise ValueError("a window must end after it starts")

    @property
    def duration_ns(self) -> int:
        """Length of the window in nanoseconds."""
        return self.end_ns - self.start_ns

    @property
    def duration_s(self) -> float:
        """Length of the window in seconds."""
        return self.duration_ns / NS_PER_SECOND

    def preceding(self) -> TimeWindow:
        """The window of the same length that ends where this one starts."""
        return TimeWindow(self.start_ns - self.duration_ns, self.start_ns)

    def as_dict(self) -> dict[str, str]:
        """RFC3339 rendering used in every answer."""
        return {"start": format_timestamp(self.start_ns), "end": format_timestamp(self.end_ns)}


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """A validated, mode-based request. `logql.build_logql` turns it into LogQL."""

    mode: Mode
    window: TimeWindow
    services: tuple[str, ...] = ()
    workspace_id: str | None = None
    conversation_id: str | None = None
    correlation_id: str | None = None
    model: str | None = None
    search: str | None = None
    limit: int = 100
    direction: Direction = Direction.BACKWARD


@dataclass(slots=True)
class LogRecord:
    """One log line as every layer sees it. Treat it as immutable.

    Not declared frozen: a frozen dataclass pays ~1 µs per instance in its
    constructor, and the query path builds thousands per request.

    `labels` are the Loki stream labels; `fields` are the parsed JSON body merged
    with the structured metadata. `service`, `level` and `message` are resolved
    once at parse time from labels first, then the body.
    """

    timestamp_ns: int
    line: str
    service: str
    level: str
    message: str
    labels: Mapping[str, str] = field(default_factory=dict)
    fields: Mapping[str, Any] = field(default_factory=dict)
    # Loki's structured metadata, also merged into `fields`: kept so redaction can
    # probe what the line does not hold (a JSON body's fields are the line's text).
    metadata: Mapping[str, str] | None = field(default=None, compare=False, repr=False)

    def field_str(self, name: str) -> str | None:
        """A field as text, or None when absent or empty."""
        value = self.fields.get(name)
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else str(value)

    def field_float(self, name: str) -> float | None:
        """A numeric field, or None when absent or not a number."""
        value = self.fields.get(name)
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return None
        return None

    @property
    def is_error(self) -> bool:
        """True when the level is error or worse."""
        return is_error_level(self.level)

    def stream_key(self) -> tuple[tuple[str, str], ...]:
        """The identity of the Loki stream this line belongs to."""
        return tuple(sorted(self.labels.items()))

    def to_entry(self) -> dict[str, Any]:
        """The public entry shape of DESIGN.md §4."""
        return entries_of((self,))[0]


def parse_body(line: str) -> dict[str, Any] | None:
    """The JSON object of a line, or None when the line is not one."""
    # The common case (a line starting with `{`) first: this runs once per line.
    if line[:1] != "{":
        if not line[:1].isspace():
            return None
        line = line.lstrip()
        if line[:1] != "{":
            return None
    try:
        value = _loads(line)
    except orjson.JSONDecodeError:
        return None
    return value if value.__class__ is dict else None


_TEXT_LEVEL = re.compile(
    r"\b(TRACE|DEBUG|INFO|NOTICE|WARN(?:ING)?|ERROR|ERR|CRIT(?:ICAL)?|FATAL|PANIC)\b",
    re.IGNORECASE,
)


def guess_level(text: str) -> str:
    """The first level word in a plain-text line, normalised; `info` when none."""
    match = _TEXT_LEVEL.search(text[:512])
    if match is None:
        return "info"
    word = match.group(1).lower()
    return {"warn": "warning", "err": "error", "crit": "critical"}.get(word, word)


def make_record(
    timestamp_ns: int,
    line: str,
    labels: Mapping[str, str],
    metadata: Mapping[str, str] | None = None,
    body: dict[str, Any] | None = None,
) -> LogRecord:
    """Build a LogRecord from what Loki returns: stream labels, metadata and the line."""
    if body is None:
        body = parse_body(line)
    level = labels.get("level")
    return _record(
        timestamp_ns,
        line,
        labels,
        metadata,
        body,
        labels.get("service_name"),
        level.lower() if level else None,
    )


def stream_records(labels: Mapping[str, str], values: Iterable[Sequence[Any]]) -> list[LogRecord]:
    """The records of one Loki stream, `values` as Loki sends them.

    Each value is `[timestamp, line]` or, with categorize-labels,
    `[timestamp, line, {"structuredMetadata": {...}, "parsed": {...}}]`; labels our
    own pipeline stages extract ("parsed") are not kept. The hot path of every
    query: the stream's labels are resolved once, not once per line.
    """
    service_label = labels.get("service_name")
    level = labels.get("level")
    level_label = level.lower() if level else None
    records: list[LogRecord] = []
    append = records.append
    for value in values:
        line = value[1]
        metadata = value[2].get("structuredMetadata") if len(value) > 2 and value[2] else None
        body = parse_body(line)
        append(_record(int(value[0]), line, labels, metadata, body, service_label, level_label))
    return records


def records_of(
    entries: Iterable[tuple[int, Mapping[str, str], str, Mapping[str, str] | None]],
) -> list[LogRecord]:
    """Records of `(timestamp, labels, line, metadata)` tuples, e.g. a page merged across streams.

    Each distinct labels object is resolved once, as in `stream_records`.
    """
    resolved: dict[int, tuple[str | None, str | None]] = {}
    records: list[LogRecord] = []
    append = records.append
    for timestamp_ns, labels, line, metadata in entries:
        found = resolved.get(id(labels))
        if found is None:
            level = labels.get("level")
            found = (labels.get("service_name"), level.lower() if level else None)
            resolved[id(labels)] = found
        append(_record(timestamp_ns, line, labels, metadata, parse_body(line), found[0], found[1]))
    return records


def _record(
    timestamp_ns: int,
    line: str,
    labels: Mapping[str, str],
    metadata: Mapping[str, str] | None,
    body: dict[str, Any] | None,
    service_label: str | None,
    level_label: str | None,
) -> LogRecord:
    # Labels first, then the JSON body; the message is `msg`, else `message`, else the line.
    if body is None:
        fields: dict[str, Any] = dict(metadata) if metadata else {}
        message: str | None = line
    else:
        # The body wins over metadata; when it names all of it (metadata extracted
        # from the line, as Promtail does), the fields are the body, in its order.
        fields = {**metadata, **body} if metadata and not metadata.keys() <= body.keys() else body
        value = body.get("msg")
        if value is None or value == "":
            value = body.get("message")
        message = value if value.__class__ is str else _text(value)
    if not level_label:
        level_value = _text(fields.get("level"))
        level_label = level_value.lower() if level_value else guess_level(line)
    return LogRecord(
        timestamp_ns,
        line,
        service_label or _text(fields.get("service")) or "unknown",
        level_label,
        message or line,
        labels,
        fields,
        metadata or None,
    )


def _text(value: object) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def format_timestamp(timestamp_ns: int) -> str:
    """RFC3339 with nanoseconds, UTC (`2026-11-20T10:00:00.123456789Z`)."""
    seconds, nanos = divmod(timestamp_ns, NS_PER_SECOND)
    return f"{_second_stamp(seconds)}.{nanos:09d}Z"


@lru_cache(maxsize=65536)
def _second_stamp(seconds: int) -> str:
    # Lines cluster in time: thousands share a second, so format each second once.
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


class TimestampFormatter:
    """`format_timestamp` for a run of mostly time-ordered lines.

    Keeps the RFC3339 text of the last second seen and the range of nanoseconds it
    covers: a timestamp in that range needs only its last nine decimal digits, the
    nanoseconds as they are printed. Big-integer division and zero-padded
    formatting cost more than the rest of an entry together.
    """

    __slots__ = ("_high", "_low", "_prefix")

    def __init__(self) -> None:
        self._low = self._high = 0
        self._prefix = ""

    def __call__(self, timestamp_ns: int) -> str:
        if not self._low <= timestamp_ns < self._high:
            if timestamp_ns < NS_PER_SECOND:
                return format_timestamp(timestamp_ns)
            self._enter(timestamp_ns)
        return f"{self._prefix}{str(timestamp_ns)[-9:]}Z"

    def many(self, timestamps: Iterable[int]) -> list[str]:
        """The text of each timestamp, in order: `__call__` without a call per line."""
        low, high, prefix = self._low, self._high, self._prefix
        stamps: list[str] = []
        append = stamps.append
        for timestamp_ns in timestamps:
            if not low <= timestamp_ns < high:
                if timestamp_ns < NS_PER_SECOND:
                    append(format_timestamp(timestamp_ns))
                    continue
                self._enter(timestamp_ns)
                low, high, prefix = self._low, self._high, self._prefix
            append(f"{prefix}{str(timestamp_ns)[-9:]}Z")
        return stamps

    def _enter(self, timestamp_ns: int) -> None:
        """Make the second of `timestamp_ns` the current one."""
        seconds = timestamp_ns // NS_PER_SECOND
        self._low = seconds * NS_PER_SECOND
        self._high = self._low + NS_PER_SECOND
        self._prefix = _second_stamp(seconds) + "."


def entries_of(records: Iterable[LogRecord]) -> list[dict[str, Any]]:
    """`LogRecord.to_entry` of many records: the per-line step of every answer."""
    records = list(records)
    stamps = TimestampFormatter().many([r.timestamp_ns for r in records])
    return [
        {
            "timestamp": stamp,
            "service": r.service,
            "level": r.level,
            "message": r.message,
            "labels": r.labels,
            "fields": r.fields,
        }
        for stamp, r in zip(stamps, records, strict=True)
    ]


_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_DURATION_NS = {
    "ms": 1_000_000,
    "s": NS_PER_SECOND,
    "m": 60 * NS_PER_SECOND,
    "h": 3600 * NS_PER_SECOND,
    "d": 86400 * NS_PER_SECOND,
    "w": 7 * 86400 * NS_PER_SECOND,
}


def parse_duration_ns(text: str) -> int:
    """Parse `15m`, `1h30m`, `7d` (Prometheus style) into nanoseconds.

    Raises ValueError for anything else, including zero and empty input.
    """
    text = text.strip()
    if not text or len(text) > 32:
        raise ValueError(f"not a duration: {text[:32]!r}")
    position = 0
    total = 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            raise ValueError(f"not a duration: {text!r}")
        total += int(match.group(1)) * _DURATION_NS[match.group(2)]
        position = match.end()
    if position != len(text) or total <= 0:
        raise ValueError(f"not a duration: {text!r} (use e.g. 15m, 1h, 7d)")
    return total


def format_duration_s(seconds: int) -> str:
    """A whole number of seconds as a LogQL range (`3600s`)."""
    return f"{max(1, seconds)}s"
