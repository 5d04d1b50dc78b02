"""Typed results of Loki's HTTP API."""

from __future__ import annotations

from dataclasses import dataclass, field

from ailogs.domain import LogRecord


@dataclass(frozen=True, slots=True)
class QueryStats:
    """What Loki reports it did for a query."""

    bytes_processed: int = 0
    lines_processed: int = 0
    exec_time_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Series:
    """One metric series: labels and (unix seconds, value) samples."""

    metric: dict[str, str]
    values: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class QueryResponse:
    """A parsed `/query` or `/query_range` answer."""

    result_type: str
    records: list[LogRecord] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    stats: QueryStats = field(default_factory=QueryStats)


@dataclass(frozen=True, slots=True)
class IndexStats:
    """Loki's index estimate for a selector (`/index/stats`)."""

    streams: int
    chunks: int
    bytes: int
    entries: int
