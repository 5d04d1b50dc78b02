"""Parse Loki's JSON answers into domain objects — the hot path of every query."""

from __future__ import annotations

from typing import Any

import orjson

from ailogs.answer_rows import Row, stream_rows
from ailogs.domain import LogRecord, TimestampFormatter, stream_records
from ailogs.errors import LokiUnavailable
from ailogs.loki.models import IndexStats, QueryResponse, QueryStats, Series


def load_json(body: bytes) -> Any:
    """Decode a Loki body, mapping garbage to LokiUnavailable."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise LokiUnavailable("Loki answered with a body that is not JSON") from None


def _data(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
        raise LokiUnavailable("Loki answered without a `data` object")
    data: dict[str, Any] = payload["data"]
    return data


def parse_query_response(body: bytes) -> QueryResponse:
    """Parse a `/query` or `/query_range` body (streams, matrix, vector or scalar)."""
    data = _data(load_json(body))
    result_type = str(data.get("resultType", ""))
    stats = _stats(data.get("stats"))
    result = data.get("result") or []
    if result_type == "streams":
        return QueryResponse(result_type, records=_records(result), stats=stats)
    if result_type == "matrix":
        series = [
            Series(
                dict(item.get("metric", {})), tuple((float(t), float(v)) for t, v in item["values"])
            )
            for item in result
        ]
        return QueryResponse(result_type, series=series, stats=stats)
    if result_type == "vector":
        series = [
            Series(
                dict(item.get("metric", {})), ((float(item["value"][0]), float(item["value"][1])),)
            )
            for item in result
        ]
        return QueryResponse(result_type, series=series, stats=stats)
    if result_type == "scalar":
        return QueryResponse(
            result_type, series=[Series({}, ((float(result[0]), float(result[1])),))]
        )
    raise LokiUnavailable(f"Loki answered an unknown result type {result_type!r}")


def parse_log_rows(body: bytes) -> tuple[list[Row], QueryStats]:
    """A log query's `/query_range` body as answer rows (`answer_rows`) and Loki's stats.

    The `/query` hot path: what `parse_query_response` gives as records, shaped as
    entries while it is decoded.
    """
    data = _data(load_json(body))
    if str(data.get("resultType", "")) != "streams":
        return [], parse_query_response(body).stats
    stamp = TimestampFormatter()
    rows: list[Row] = []
    for stream in data.get("result") or []:
        rows += stream_rows(stream.get("stream") or {}, stream.get("values") or (), stamp)
    return rows, _stats(data.get("stats"))


def _records(result: list[dict[str, Any]]) -> list[LogRecord]:
    records: list[LogRecord] = []
    for stream in result:
        records.extend(stream_records(stream.get("stream") or {}, stream.get("values") or ()))
    return records


def _stats(raw: Any) -> QueryStats:
    if not isinstance(raw, dict):
        return QueryStats()
    summary = raw.get("summary") or {}
    return QueryStats(
        bytes_processed=int(summary.get("totalBytesProcessed", 0) or 0),
        lines_processed=int(summary.get("totalLinesProcessed", 0) or 0),
        exec_time_s=float(summary.get("execTime", 0.0) or 0.0),
    )


def parse_string_list(body: bytes) -> list[str]:
    """Parse `/labels` and `/label/<name>/values` answers."""
    payload = load_json(body)
    data = payload.get("data") if isinstance(payload, dict) else None
    return [str(item) for item in data or []]


def parse_series(body: bytes) -> list[dict[str, str]]:
    """Parse a `/series` answer."""
    payload = load_json(body)
    data = payload.get("data") if isinstance(payload, dict) else None
    return [dict(item) for item in data or []]


def parse_index_stats(body: bytes) -> IndexStats:
    """Parse an `/index/stats` answer."""
    payload = load_json(body)
    if not isinstance(payload, dict):
        raise LokiUnavailable("Loki answered index stats that are not an object")
    return IndexStats(
        streams=int(payload.get("streams", 0)),
        chunks=int(payload.get("chunks", 0)),
        bytes=int(payload.get("bytes", 0)),
        entries=int(payload.get("entries", 0)),
    )
