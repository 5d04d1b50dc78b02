"""A live-stream subscriber's filter: validated once, then matched against every line.

Only `services` shapes the upstream Loki tail (its selector); severity, search
and workspace are matched here, in the process. That keeps the number of
upstream tails small (Loki allows 10 per tenant) while any number of
subscribers narrow the same tail differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from ailogs.domain import LEVEL_RANK, LogRecord, level_rank
from ailogs.errors import ValidationFailed

ServiceName = Annotated[str, StringConstraints(min_length=1, max_length=128)]
PatternName = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class PatternSelector(Protocol):
    """What the filter needs from the pattern library."""

    def select(self, ids_or_categories: Any) -> frozenset[str]:
        """Expand pattern ids and category names into pattern ids."""
        ...


class StreamFilter(BaseModel):
    """The filter a client sends in `subscribe` and `update_filter` (DESIGN.md §5)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    services: tuple[ServiceName, ...] = ()
    severity_threshold: str | None = None
    pattern_alerts: tuple[PatternName, ...] = ()
    search: str | None = Field(default=None, min_length=1)
    workspace_id: str | None = Field(default=None, min_length=1, max_length=128)
    include_logs: bool = True


@dataclass(frozen=True, slots=True)
class FilterLimits:
    """How large a filter may be."""

    max_services: int = 50
    max_patterns: int = 50
    max_search_length: int = 512


@dataclass(frozen=True, slots=True)
class CompiledFilter:
    """A validated filter in the form the hub matches lines with."""

    services: frozenset[str]
    min_rank: int
    search: str | None
    workspace_id: str | None
    include_logs: bool
    alert_ids: frozenset[str]
    source: StreamFilter

    @property
    def log_key(self) -> tuple[object, ...]:
        """Subscribers with equal keys receive exactly the same log lines."""
        return (self.services, self.min_rank, self.search, self.workspace_id, self.include_logs)

    @property
    def upstream_services(self) -> tuple[str, ...]:
        """The services the upstream tail must cover (empty: all)."""
        return tuple(sorted(self.services))

    def in_scope(self, record: LogRecord) -> bool:
        """True when the line belongs to the subscriber's services and workspace."""
        if self.services and record.service not in self.services:
            return False
        return self.workspace_id is None or record.field_str("workspace_id") == self.workspace_id

    def accepts(self, record: LogRecord) -> bool:
        """True when the line is sent to the subscriber as a `log`."""
        if not self.include_logs or not self.in_scope(record):
            return False
        if self.min_rank and level_rank(record.level) < self.min_rank:
            return False
        return self.search is None or self.search in record.line

    def describe(self) -> dict[str, Any]:
        """The filter as echoed in the `subscribed` frame."""
        return {
            **self.source.model_dump(),
            "pattern_ids": sorted(self.alert_ids),
        }


def compile_filter(
    raw: Mapping[str, Any] | StreamFilter | None,
    *,
    limits: FilterLimits,
    patterns: PatternSelector | None,
) -> CompiledFilter:
    """Validate a client's filter and compile it, or raise ValidationFailed naming the field."""
    if isinstance(raw, StreamFilter):
        parsed = raw
    else:
        try:
            parsed = StreamFilter.model_validate(raw or {})
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "filter"
            raise ValidationFailed(f"filter.{field}: {first['msg']}", field=field) from None
    if len(parsed.services) > limits.max_services:
        raise ValidationFailed(
            f"filter.services: at most {limits.max_services} services", field="services"
        )
    if len(parsed.pattern_alerts) > limits.max_patterns:
        raise ValidationFailed(
            f"filter.pattern_alerts: at most {limits.max_patterns} entries",
            field="pattern_alerts",
        )
    if parsed.search is not None and len(parsed.search) > limits.max_search_length:
        raise ValidationFailed(
            f"filter.search: at most {limits.max_search_length} characters", field="search"
        )
    min_rank = 0
    if parsed.severity_threshold is not None:
        threshold = parsed.severity_threshold.lower()
        if threshold not in LEVEL_RANK:
            raise ValidationFailed(
                "filter.severity_threshold: use one of debug, info, warning, error, critical",
                field="severity_threshold",
            )
        min_rank = LEVEL_RANK[threshold]
    alert_ids: frozenset[str] = frozenset()
    if parsed.pattern_alerts:
        if patterns is None:
            raise ValidationFailed(
                "filter.pattern_alerts: no pattern library is loaded", field="pattern_alerts"
            )
        alert_ids = patterns.select(parsed.pattern_alerts)
        unknown = [name for name in parsed.pattern_alerts if not patterns.select([name])]
        if unknown:
            raise ValidationFailed(
                f"filter.pattern_alerts: unknown pattern or category {unknown[0][:64]!r}",
                field="pattern_alerts",
                remediation="List the library with GET /api/v1/ai_logs/patterns.",
            )
    return CompiledFilter(
        services=frozenset(parsed.services),
        min_rank=min_rank,
        search=parsed.search,
        workspace_id=parsed.workspace_id,
        include_logs=parsed.include_logs,
        alert_ids=alert_ids,
        source=parsed,
    )
