"""Answers about recorded AI operations: workspace summaries, conversations, model metrics.

Summaries read the hourly and daily rollups, never raw operations: the window
is widened to whole hours, full days inside it are read from daily buckets and
the ragged edges from hourly ones, so a 30-day summary touches a few hundred
rollup rows however many calls it counts. Percentiles come from the merged
fixed-bound histograms (`store.histogram`).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Protocol

from ailogs.domain import TimeWindow, format_timestamp, parse_duration_ns
from ailogs.errors import ConversationNotFound, ValidationFailed, WorkspaceNotFound
from ailogs.services.request_spec import parse_time_ns
from ailogs.store import histogram
from ailogs.store.enums import Granularity
from ailogs.store.models import AiConversation, AiOperation
from ailogs.store.records import DAY_NS, HOUR_NS
from ailogs.store.repositories import BucketSpan, ModelUsage

TIMELINE_LIMIT = 500


class UsageReader(Protocol):
    """Reads of the usage rollups (`store.repositories.UsageRepository`)."""

    async def workspace_exists(self, workspace_id: str) -> bool:
        """True when the workspace has any rolled-up operation."""
        ...

    async def by_model(
        self, workspace_id: str | None, spans: Sequence[BucketSpan]
    ) -> list[ModelUsage]:
        """Per-model totals over the bucket spans."""
        ...


class ConversationReader(Protocol):
    """Reads of one conversation (`store.repositories.ConversationRepository`)."""

    async def get(self, conversation_id: str) -> AiConversation | None:
        """The conversation's running totals."""
        ...

    async def operations(self, conversation_id: str, limit: int) -> Sequence[AiOperation]:
        """Its operations in time order."""
        ...

    async def models(self, conversation_id: str) -> list[str]:
        """Distinct models it used."""
        ...


def resolve_window(
    time_range: str | None,
    start: str | None,
    end: str | None,
    *,
    now_ns: int,
    default: str = "24h",
    longest: str = "400d",
) -> TimeWindow:
    """The window of a summary request: `time_range` back from `end` (or now), or start/end."""
    if time_range and start:
        raise ValidationFailed("give time_range or start, not both", field="time_range")
    end_ns = parse_time_ns(end, "end") if end else now_ns
    if start:
        start_ns = parse_time_ns(start, "start")
    else:
        try:
            start_ns = end_ns - parse_duration_ns(time_range or default)
        except ValueError as exc:
            raise ValidationFailed(str(exc), field="time_range") from None
    if end_ns <= start_ns:
        raise ValidationFailed("end must be after start", field="end")
    if end_ns - start_ns > parse_duration_ns(longest) or start_ns < 0:
        raise ValidationFailed(
            f"the window must lie after 1970 and span at most {longest}", field="start"
        )
    return TimeWindow(start_ns, end_ns)


def align_to_hours(window: TimeWindow) -> TimeWindow:
    """Widen a window to whole hours (the rollups' resolution)."""
    start = window.start_ns - window.start_ns % HOUR_NS
    end = -(-window.end_ns // HOUR_NS) * HOUR_NS
    return TimeWindow(start, end)


def bucket_spans(window: TimeWindow) -> list[BucketSpan]:
    """Daily buckets for the whole days inside an hour-aligned window, hourly for the edges."""
    first_day = -(-window.start_ns // DAY_NS) * DAY_NS
    last_day = window.end_ns - window.end_ns % DAY_NS
    if first_day >= last_day:
        return [(Granularity.HOUR, window.start_ns, window.end_ns)]
    spans: list[BucketSpan] = [(Granularity.DAY, first_day, last_day)]
    if window.start_ns < first_day:
        spans.append((Granularity.HOUR, window.start_ns, first_day))
    if last_day < window.end_ns:
        spans.append((Granularity.HOUR, last_day, window.end_ns))
    return spans


def _money(value: Decimal) -> float:
    return float(value)


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def model_entry(usage: ModelUsage) -> dict[str, Any]:
    """One `by_model` element."""
    return {
        "model": usage.model,
        "requests": usage.requests,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cost_usd": _money(usage.cost_usd),
        "unpriced": usage.unpriced,
        "errors": usage.errors,
        "error_rate": _rate(usage.errors, usage.requests),
        "error_types": dict(sorted(usage.error_types.items())),
        "p50_ms": histogram.percentile(usage.histogram, 0.50, usage.duration_ms_max),
        "p95_ms": histogram.percentile(usage.histogram, 0.95, usage.duration_ms_max),
        "avg_ms": round(usage.duration_us_sum / usage.requests / 1000, 3)
        if usage.requests
        else None,
        "max_ms": usage.duration_ms_max if usage.requests else None,
    }


def totals_of(models: Sequence[ModelUsage]) -> dict[str, Any]:
    """Totals across models, with percentiles of the merged histogram."""
    merged = histogram.empty()
    for usage in models:
        histogram.merge(merged, usage.histogram)
    requests = sum(u.requests for u in models)
    errors = sum(u.errors for u in models)
    max_ms = max((u.duration_ms_max for u in models), default=0.0)
    return {
        "requests": requests,
        "input_tokens": sum(u.input_tokens for u in models),
        "output_tokens": sum(u.output_tokens for u in models),
        "cache_read_tokens": sum(u.cache_read_tokens for u in models),
        "cost_usd": _money(sum((u.cost_usd for u in models), Decimal(0))),
        "unpriced": sum(u.unpriced for u in models),
        "errors": errors,
        "error_rate": _rate(errors, requests),
        "p50_ms": histogram.percentile(merged, 0.50, max_ms),
        "p95_ms": histogram.percentile(merged, 0.95, max_ms),
    }


def _change(current: float | None, previous: float | None) -> float | None:
    if current is None or previous is None or previous == 0:
        return None
    return round((current - previous) / previous * 100, 2)


def trend_of(
    current: dict[str, Any], previous: dict[str, Any], window: TimeWindow
) -> dict[str, Any]:
    """How the window compares with the one of the same length before it."""
    direction = "flat"
    change = _change(current["requests"], previous["requests"])
    if change is not None and abs(change) >= 10:
        direction = "up" if change > 0 else "down"
    return {
        "previous_window": window.as_dict(),
        "previous": previous,
        "requests_change_pct": change,
        "cost_change_pct": _change(current["cost_usd"], previous["cost_usd"]),
        "error_rate_change": round(current["error_rate"] - previous["error_rate"], 6),
        "p95_change_pct": _change(current["p95_ms"], previous["p95_ms"]),
        "direction": direction,
    }


async def workspace_summary(
    workspace_id: str, window: TimeWindow, *, usage: UsageReader
) -> dict[str, Any]:
    """Usage of a workspace per model over a window, with the trend against the previous one.

    Raises WorkspaceNotFound when no operation of the workspace was ever recorded.
    """
    if not await usage.workspace_exists(workspace_id):
        raise WorkspaceNotFound(f"no AI operations recorded for workspace {workspace_id!r}")
    aligned = align_to_hours(window)
    models = await usage.by_model(workspace_id, bucket_spans(aligned))
    previous_window = aligned.preceding()
    previous_models = await usage.by_model(workspace_id, bucket_spans(previous_window))
    totals = totals_of(models)
    return {
        "workspace_id": workspace_id,
        "window": aligned.as_dict(),
        "requested_window": window.as_dict(),
        "totals": totals,
        "by_model": [model_entry(item) for item in models],
        "trend": trend_of(totals, totals_of(previous_models), previous_window),
    }


async def model_metrics(
    window: TimeWindow, *, usage: UsageReader, workspace_id: str | None = None
) -> dict[str, Any]:
    """Per-model latency, tokens and errors of one workspace or all (from the rollups)."""
    aligned = align_to_hours(window)
    models = await usage.by_model(workspace_id, bucket_spans(aligned))
    return {
        "workspace_id": workspace_id,
        "window": aligned.as_dict(),
        "totals": totals_of(models),
        "models": [model_entry(item) for item in models],
    }


def timeline_entry(op: AiOperation) -> dict[str, Any]:
    """One operation of a conversation's timeline."""
    return {
        "id": op.id,
        "timestamp": format_timestamp(op.start_time_ns),
        "service": op.service,
        "operation": op.operation,
        "provider": op.provider,
        "model": op.request_model,
        "response_model": op.response_model,
        "input_tokens": op.input_tokens,
        "output_tokens": op.output_tokens,
        "duration_ms": op.duration_ms,
        "ttft_ms": op.ttft_ms,
        "status": op.status.value,
        "error_type": op.error_type,
        "cost_usd": None if op.cost_usd is None else _money(op.cost_usd),
        "cost_source": op.cost_source.value,
        "trace_id": op.trace_id,
        "span_id": op.span_id,
        "correlation_id": op.correlation_id,
    }


async def conversation_detail(
    conversation_id: str, *, conversations: ConversationReader, limit: int = TIMELINE_LIMIT
) -> dict[str, Any]:
    """One conversation: totals, models and its timeline (oldest first, at most `limit`).

    Raises ConversationNotFound when no operation named the conversation.
    """
    conversation = await conversations.get(conversation_id)
    if conversation is None:
        raise ConversationNotFound(
            f"no AI operations recorded for conversation {conversation_id!r}"
        )
    operations = await conversations.operations(conversation_id, limit + 1)
    return {
        "conversation_id": conversation_id,
        "workspace_id": conversation.workspace_id,
        "operations": conversation.operations,
        "models": await conversations.models(conversation_id),
        "input_tokens": conversation.input_tokens,
        "output_tokens": conversation.output_tokens,
        "cost_usd": _money(conversation.cost_usd),
        "errors": conversation.errors,
        "started_at": format_timestamp(conversation.first_seen_ns),
        "last_activity_at": format_timestamp(conversation.last_seen_ns),
        "timeline": [timeline_entry(op) for op in operations[:limit]],
        "timeline_truncated": len(operations) > limit,
    }
