"""Read a local log file into LogRecords for offline analysis (`ailogs analyze`).

Accepts JSON lines (DESIGN.md §3 fields and the usual alternates) and plain
text (timestamp, level and service guessed from the line). Nothing in a file
makes this crash: binary junk and empty lines are skipped and counted, invalid
UTF-8 is replaced, malformed JSON and overlong lines are analysed as text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ailogs.domain import NS_PER_SECOND, LogRecord, TimeWindow, make_record

# Longer lines are cut: a 1 MB line is someone's payload dump, not a log message.
MAX_LINE_BYTES = 64 * 1024

_ALTERNATES: Mapping[str, tuple[str, ...]] = {
    "service": ("service", "service_name", "serviceName", "service.name", "app", "application"),
    "ts": ("ts", "timestamp", "time", "@timestamp", "datetime", "date"),
    "level": ("level", "severity", "lvl", "levelname", "log.level", "loglevel"),
    "msg": ("msg", "message", "log", "text", "body"),
    "trace_id": ("trace_id", "traceId", "traceID", "trace.id", "TraceID"),
    "span_id": ("span_id", "spanId", "spanID", "span.id", "SpanID"),
    "parent_span_id": ("parent_span_id", "parentSpanId", "parentSpanID", "parent_id"),
    "correlation_id": ("correlation_id", "correlationId", "request_id", "requestId"),
    "upstream_service": ("upstream_service", "upstreamService", "caller"),
}
# pino / bunyan numeric levels.
_NUMERIC_LEVELS = {10: "trace", 20: "debug", 30: "info", 40: "warning", 50: "error", 60: "fatal"}

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?\s*(Z|[+-]\d{2}:?\d{2})?"
)
_SYSLOG = re.compile(
    r"^(?:<\d+>)?([A-Z][a-z]{2})\s+(\d{1,2}) (\d{2}):(\d{2}):(\d{2})\s+(\S+)\s+"
    r"([\w./-]+?)(?:\[\d+\])?:"
)
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
_SERVICE_TOKEN = re.compile(r"\b(?:service|service_name|app)=\"?([\w.-]+)")


@dataclass(slots=True)
class ReadStats:
    """What happened to the lines of a file."""

    lines: int = 0
    json_lines: int = 0
    text_lines: int = 0
    empty: int = 0
    binary: int = 0
    malformed_json: int = 0
    invalid_utf8: int = 0
    truncated: int = 0

    def skipped(self) -> int:
        """Lines not analysed at all."""
        return self.empty + self.binary

    def as_dict(self) -> dict[str, int]:
        """Counts by outcome, for the report header."""
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class LogFile:
    """The records of a file, in time order, and how the lines were read."""

    records: list[LogRecord] = field(default_factory=list)
    stats: ReadStats = field(default_factory=ReadStats)


@dataclass(frozen=True, slots=True)
class SplitRecords:
    """A file cut into a baseline and a current window."""

    baseline: list[LogRecord]
    current: list[LogRecord]
    baseline_window: TimeWindow
    current_window: TimeWindow


def read_log_file(path: Path) -> LogFile:
    """Read every line of a file; raises OSError only when the file cannot be opened."""
    with path.open("rb") as handle:
        return read_log_lines(handle)


def read_log_lines(raw_lines: Iterable[bytes]) -> LogFile:
    """Turn raw lines into records (see the module docstring for the rules)."""
    result = LogFile()
    stats = result.stats
    previous_ts = 0
    for index, raw in enumerate(_bounded(raw_lines, stats)):
        stats.lines += 1
        stripped = raw.strip()
        if not stripped:
            stats.empty += 1
            continue
        if _is_binary(stripped):
            stats.binary += 1
            continue
        try:
            line = stripped.decode("utf-8")
        except UnicodeDecodeError:
            stats.invalid_utf8 += 1
            line = stripped.decode("utf-8", errors="replace")
        record = _json_record(line, stats, previous_ts) if line.startswith("{") else None
        if record is None:
            stats.text_lines += 1
            record = _text_record(line, previous_ts, index)
        else:
            stats.json_lines += 1
        previous_ts = record.timestamp_ns
        result.records.append(record)
    result.records.sort(key=lambda r: r.timestamp_ns)
    return result


def _bounded(raw_lines: Iterable[bytes], stats: ReadStats) -> Iterator[bytes]:
    for raw in raw_lines:
        if len(raw) > MAX_LINE_BYTES:
            stats.truncated += 1
            raw = raw[:MAX_LINE_BYTES]
        yield raw


def _is_binary(data: bytes) -> bool:
    if b"\x00" in data:
        return True
    sample = data[:512]
    control = sum(1 for byte in sample if byte < 32 and byte not in (9, 10, 13))
    return control * 10 > len(sample)


def _json_record(line: str, stats: ReadStats, previous_ts: int) -> LogRecord | None:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        stats.malformed_json += 1
        return None
    if not isinstance(value, dict):
        stats.malformed_json += 1
        return None
    body = _normalise(value)
    timestamp_ns = parse_timestamp(body.get("ts"))
    if timestamp_ns is None:
        # No usable clock: keep file order right after the previous line.
        timestamp_ns = previous_ts + 1
    return make_record(timestamp_ns, line, {}, body=body)


def _normalise(value: dict[str, Any]) -> dict[str, Any]:
    """Copy alternate field names onto the canonical ones, keeping the originals."""
    body = dict(value)
    for canonical, names in _ALTERNATES.items():
        if body.get(canonical) not in (None, ""):
            continue
        for name in names:
            found = body.get(name)
            if found not in (None, ""):
                body[canonical] = found
                break
    level = body.get("level")
    if isinstance(level, int) and not isinstance(level, bool):
        body["level"] = _NUMERIC_LEVELS.get(level - level % 10, "info")
    elif level is not None and not isinstance(level, str):
        body["level"] = str(level)
    if "service" in body and not isinstance(body["service"], str):
        body["service"] = str(body["service"])
    return body


def parse_timestamp(value: object) -> int | None:
    """RFC3339 text or epoch seconds / ms / µs / ns (number or digits) as Unix ns."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _epoch_ns(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.isdigit():
        return _epoch_ns(int(text))
    if re.fullmatch(r"\d+\.\d+", text):
        return _epoch_ns(float(text))
    return _iso_ns(text)


def _epoch_ns(number: float) -> int | None:
    """Seconds, ms, µs or ns by magnitude; integers stay exact."""
    if number < 0:
        return None
    for limit, factor in ((10**11, 10**9), (10**14, 10**6), (10**17, 10**3)):
        if number < limit:
            return number * factor if isinstance(number, int) else int(number * factor)
    return int(number)


def _iso_ns(text: str) -> int | None:
    match = _ISO.search(text[:64])
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC
        )
    except ValueError:
        return None
    seconds = int(moment.timestamp())
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        seconds -= sign * (int(digits[:2]) * 3600 + int(digits[2:4]) * 60)
    nanos = int((fraction or "0").ljust(9, "0")[:9])
    return seconds * NS_PER_SECOND + nanos


def _text_record(line: str, previous_ts: int, index: int) -> LogRecord:
    timestamp_ns = _iso_ns(line)
    service = None
    syslog = _SYSLOG.match(line)
    if syslog is not None:
        month, day, hour, minute, second, _host, program = syslog.groups()
        year = (
            datetime.fromtimestamp(previous_ts / NS_PER_SECOND, UTC).year if previous_ts else 1970
        )
        try:
            moment = datetime(
                year,
                _MONTHS.get(month, 1),
                int(day),
                int(hour),
                int(minute),
                int(second),
                tzinfo=UTC,
            )
            timestamp_ns = timestamp_ns or int(moment.timestamp()) * NS_PER_SECOND
        except ValueError:
            pass
        service = program
    token = _SERVICE_TOKEN.search(line)
    if token is not None:
        service = token.group(1)
    if timestamp_ns is None:
        # No clock on the line: keep file order right after the previous line.
        timestamp_ns = previous_ts + 1 if previous_ts else index
    return make_record(timestamp_ns, line, {}, metadata={"service": service or "unknown"})


def split_at(records: list[LogRecord], incident_start_ns: int | None) -> SplitRecords:
    """Cut time-ordered records at the incident start (default: the middle of the span).

    Lines before the incident start are the baseline. Without a start, the first
    half of the file's time span is the baseline, as `/analyze` compares a
    window with the same length just before it.
    """
    if not records:
        now = incident_start_ns or NS_PER_SECOND
        window = TimeWindow(now, now + NS_PER_SECOND)
        return SplitRecords([], [], window.preceding(), window)
    first = records[0].timestamp_ns
    last = records[-1].timestamp_ns
    cut = incident_start_ns if incident_start_ns is not None else first + (last - first) // 2
    baseline = [r for r in records if r.timestamp_ns < cut]
    current = [r for r in records if r.timestamp_ns >= cut]
    current_window = TimeWindow(cut, max(last + 1, cut + NS_PER_SECOND))
    if baseline and first < cut:
        baseline_window = TimeWindow(first, cut)
    else:
        baseline_window = current_window.preceding()
    return SplitRecords(baseline, current, baseline_window, current_window)
