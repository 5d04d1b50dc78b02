"""The lines around one line on its exact stream: `grep -C` for Loki.

The stream arrives as the entry's labels, either a LogQL selector string
(`{service_name="api", level="error"}`) or a JSON object. It is parsed, never
passed through: each label name must be a valid identifier, each value is
decoded and re-escaped, and the rebuilt selector matches every label exactly,
so no input can widen it beyond the streams that carry all those labels (pass
every label of the entry, as `/query` returns them, to pin exactly one stream).
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

import orjson

from ailogs.analysis.redaction import Redactor
from ailogs.domain import NS_PER_SECOND, Direction, LogRecord
from ailogs.errors import ValidationFailed
from ailogs.loki.client import LokiClient
from ailogs.services.pager import exact_selector
from ailogs.services.query import QueryScope

_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*("(?:[^"\\]|\\.)*"|`[^`]*`)\s*(,|$)')
_MAX_LABELS = 32
_MAX_STREAM_TEXT = 4096
_DEFAULT_LOOKBACK_NS = 3600 * NS_PER_SECOND


def parse_stream(text: str) -> dict[str, str]:
    """Labels of one stream from a selector string or a JSON object; ValidationFailed otherwise."""
    text = text.strip()
    if not text or len(text) > _MAX_STREAM_TEXT:
        raise ValidationFailed("stream must be a label selector or JSON object", field="stream")
    labels = _from_json(text) if text.startswith('{"') or text == "{}" else _from_selector(text)
    if not labels or len(labels) > _MAX_LABELS:
        raise ValidationFailed(f"stream needs 1 to {_MAX_LABELS} labels", field="stream")
    try:
        exact_selector(labels)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="stream") from None
    return labels


def _from_json(text: str) -> dict[str, str]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ValidationFailed("stream is not valid JSON", field="stream") from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValidationFailed("stream must map label names to strings", field="stream")
    return {str(k): v for k, v in value.items()}


def _from_selector(text: str) -> dict[str, str]:
    if not (text.startswith("{") and text.endswith("}")):
        raise ValidationFailed('stream must be a selector like {a="b"}', field="stream")
    body = text[1:-1]
    labels: dict[str, str] = {}
    position = 0
    while position < len(body):
        match = _LABEL.match(body, position)
        if match is None or match.end() == position:
            raise ValidationFailed(
                'stream selectors may only use exact matchers: name="value"', field="stream"
            )
        name, raw, _ = match.groups()
        labels[name] = _unquote(raw)
        position = match.end()
    return labels


def _unquote(raw: str) -> str:
    if raw.startswith("`"):
        return raw[1:-1]
    # Go and JSON share \" \\ \n \t \r \uXXXX; map Go's \xNN, \a, \v first.
    body = re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: f"\\u00{m.group(1)}", raw)
    body = body.replace("\\a", "\\u0007").replace("\\v", "\\u000b")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ValidationFailed("stream has a badly escaped value", field="stream") from None
    if not isinstance(value, str):
        raise ValidationFailed("stream has a badly escaped value", field="stream")
    return value


def parse_timestamp_ns(text: str) -> int:
    """Exact nanoseconds from an RFC3339Nano timestamp or an integer of unix nanoseconds."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)", text)
    if match is None:
        raise ValidationFailed(
            "timestamp must be RFC3339 (nanoseconds allowed) or unix nanoseconds",
            field="timestamp",
        )
    head, fraction, zone = match.groups()
    stamp = datetime.fromisoformat(head + ("+00:00" if zone == "Z" else zone))
    return int(stamp.astimezone(UTC).timestamp()) * NS_PER_SECOND + int(
        ((fraction or "") + "000000000")[:9]
    )


async def read_context(
    labels: dict[str, str],
    timestamp_ns: int,
    *,
    before: int,
    after: int,
    loki: LokiClient,
    scope: QueryScope,
    redactor: Redactor,
    lookback_ns: int = _DEFAULT_LOOKBACK_NS,
) -> dict[str, Any]:
    """`before` lines older than the timestamp, the lines at it, and `after` newer ones."""
    selector = exact_selector(labels)
    at = timestamp_ns
    limit = scope.loki_max_entries

    async def lines(start: int, end: int, count: int, direction: Direction) -> list[LogRecord]:
        if count <= 0 or end <= start:
            return []
        response = await loki.query_range(
            selector,
            start_ns=start,
            end_ns=end,
            limit=count,
            direction=direction,
            tenant=scope.tenant,
        )
        return response.records

    older, same, newer = await asyncio.gather(
        lines(max(0, at - lookback_ns), at, before, Direction.BACKWARD),
        lines(at, at + 1, limit, Direction.FORWARD),
        lines(at + 1, at + 1 + lookback_ns, after, Direction.FORWARD),
    )
    older = sorted(older, key=lambda r: (r.timestamp_ns, r.line))[-before:] if before else []
    newer = sorted(newer, key=lambda r: (r.timestamp_ns, r.line))[:after]
    same = sorted(same, key=lambda r: r.line)

    def entries(records: list[LogRecord]) -> list[dict[str, Any]]:
        return [r.to_entry() for r in redactor.redact_records(records)]

    return {
        "stream": labels,
        "selector": selector,
        "timestamp": datetime.fromtimestamp(at // NS_PER_SECOND, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{at % NS_PER_SECOND:09d}Z",
        "before": entries(older),
        "at": entries(same),
        "after": entries(newer),
        "stats": {"before": len(older), "at": len(same), "after": len(newer)},
    }
