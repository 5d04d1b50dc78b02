"""Turn the common request parameters (DESIGN.md §4) into a validated QuerySpec.

Shared by every door that takes a query: HTTP query strings, JSON bodies, MCP
tools. Every rejection is a ValidationFailed naming the field.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from ailogs.cache.keys import align_up_ns
from ailogs.domain import NS_PER_SECOND, Direction, Mode, QuerySpec, TimeWindow, parse_duration_ns
from ailogs.errors import ValidationFailed

MAX_SERVICE_NAME = 256


class QueryParams(BaseModel):
    """The common parameters of every query-like request, as received."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    time_range: str | None = Field(
        default=None, description="Relative window ending now: 15m, 1h, 7d."
    )
    start: str | None = Field(default=None, description="Window start: RFC3339 or unix seconds.")
    end: str | None = Field(default=None, description="Window end: RFC3339 or unix seconds.")
    services: str | None = Field(default=None, description="Comma-separated service names.")
    workspace_id: str | None = None
    conversation_id: str | None = None
    correlation_id: str | None = None
    model: str | None = None
    search: str | None = Field(default=None, description="Literal text the line must contain.")
    limit: int | None = Field(default=None, description="Lines to return (default 100).")
    direction: str | None = Field(default=None, description="backward (newest first) or forward.")
    max_tokens: int | None = Field(default=None, description="Compact the answer to this budget.")
    dry_run: bool = Field(default=False, description="Return the plan without running it.")


@dataclass(frozen=True, slots=True)
class SpecLimits:
    """The bounds a request must respect (from settings)."""

    max_window_ns: int
    default_window_ns: int
    max_limit: int
    default_limit: int
    max_param_length: int
    max_services: int
    # Relative windows end on a multiple of this, so repeated calls share a cache key.
    live_align_ns: int = 0


def build_spec(
    params: QueryParams,
    mode: Mode | str,
    limits: SpecLimits,
    *,
    now_ns: int | None = None,
) -> QuerySpec:
    """Validate `params` for `mode` and return the QuerySpec, or raise ValidationFailed."""
    mode = _mode(mode)
    for name in ("time_range", "start", "end", "services", "workspace_id", "conversation_id",
                 "correlation_id", "model", "search", "direction"):  # fmt: skip
        _check_text(name, getattr(params, name), limits.max_param_length)
    window = _window(params, limits, time.time_ns() if now_ns is None else now_ns)
    limit = limits.default_limit if params.limit is None else params.limit
    if not 1 <= limit <= limits.max_limit:
        raise ValidationFailed(f"limit must be between 1 and {limits.max_limit}", field="limit")
    if params.max_tokens is not None and not 100 <= params.max_tokens <= 1_000_000:
        raise ValidationFailed("max_tokens must be between 100 and 1000000", field="max_tokens")
    if mode is Mode.CONVERSATION and not params.conversation_id:
        raise ValidationFailed("conversation mode needs conversation_id", field="conversation_id")
    return QuerySpec(
        mode=mode,
        window=window,
        services=_services(params.services, limits.max_services),
        workspace_id=params.workspace_id or None,
        conversation_id=params.conversation_id or None,
        correlation_id=params.correlation_id or None,
        model=params.model or None,
        search=params.search or None,
        limit=limit,
        direction=_direction(params.direction, mode),
    )


def _mode(value: Mode | str) -> Mode:
    try:
        return Mode(value)
    except ValueError:
        choices = ", ".join(m.value for m in Mode)
        raise ValidationFailed(f"unknown mode; use one of {choices}", field="mode") from None


def _check_text(name: str, value: str | None, max_length: int) -> None:
    if value is None:
        return
    if len(value) > max_length:
        raise ValidationFailed(f"{name} is longer than {max_length} characters", field=name)
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValidationFailed(f"{name} contains control characters", field=name)


def _services(raw: str | None, max_services: int) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        return ()
    names = tuple(dict.fromkeys(part.strip() for part in raw.split(",")))
    if any(not name for name in names):
        raise ValidationFailed("services has an empty name", field="services")
    if len(names) > max_services:
        raise ValidationFailed(f"at most {max_services} services per request", field="services")
    if any(len(name) > MAX_SERVICE_NAME for name in names):
        raise ValidationFailed(
            f"a service name is longer than {MAX_SERVICE_NAME}", field="services"
        )
    return names


def _direction(raw: str | None, mode: Mode) -> Direction:
    if raw is None or raw == "":
        return Direction.FORWARD if mode is Mode.CONVERSATION else Direction.BACKWARD
    try:
        return Direction(raw.lower())
    except ValueError:
        raise ValidationFailed("direction must be forward or backward", field="direction") from None


def _window(params: QueryParams, limits: SpecLimits, now_ns: int) -> TimeWindow:
    if params.time_range and params.start:
        raise ValidationFailed("give time_range or start, not both", field="time_range")
    end_ns = (
        parse_time_ns(params.end, "end")
        if params.end
        else align_up_ns(now_ns, limits.live_align_ns)
    )
    if params.start:
        start_ns = parse_time_ns(params.start, "start")
    else:
        length = limits.default_window_ns
        if params.time_range:
            try:
                length = parse_duration_ns(params.time_range)
            except ValueError as exc:
                raise ValidationFailed(str(exc), field="time_range") from None
        start_ns = end_ns - length
    if end_ns <= start_ns:
        raise ValidationFailed("end must be after start", field="end")
    if end_ns - start_ns > limits.max_window_ns:
        longest = limits.max_window_ns // (3600 * NS_PER_SECOND)
        raise ValidationFailed(f"the window is longer than the maximum ({longest}h)", field="start")
    if start_ns < 0:
        raise ValidationFailed("start is before 1970", field="start")
    return TimeWindow(start_ns, end_ns)


# Year 9999 in seconds: anything larger is not a plausible time.
_MAX_SECONDS = 253_402_300_799


def parse_time_ns(raw: str, name: str) -> int:
    """Parse RFC3339 or unix seconds (ms and ns accepted by magnitude) into nanoseconds."""
    text = raw.strip()
    try:
        if text.replace(".", "", 1).isdigit():
            value = float(text)
            if value <= _MAX_SECONDS:
                whole, _, frac = text.partition(".")
                return int(whole) * NS_PER_SECOND + int((frac + "000000000")[:9])
            if value <= _MAX_SECONDS * 1e3:
                return int(value * 1e6)
            if value <= _MAX_SECONDS * 1e6:
                return int(value * 1e3)
            return int(text)
        stamp = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValidationFailed(f"{name} is not RFC3339 or unix seconds", field=name) from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    seconds = int(stamp.timestamp())
    return seconds * NS_PER_SECOND + stamp.microsecond * 1000


def baseline_window(
    window: TimeWindow,
    *,
    shift: str | None = None,
    start: str | None = None,
    end: str | None = None,
) -> TimeWindow:
    """The baseline of an analysis: the preceding window by default, the same length
    `shift` earlier (`baseline=1d`), or explicit `baseline_start`/`baseline_end`."""
    if start or end:
        if not (start and end):
            raise ValidationFailed(
                "give both baseline_start and baseline_end", field="baseline_start"
            )
        begin, finish = parse_time_ns(start, "baseline_start"), parse_time_ns(end, "baseline_end")
        if finish <= begin:
            raise ValidationFailed(
                "baseline_end must be after baseline_start", field="baseline_end"
            )
        return TimeWindow(begin, finish)
    if shift:
        try:
            offset = parse_duration_ns(shift)
        except ValueError as exc:
            raise ValidationFailed(str(exc), field="baseline") from None
        if window.start_ns - offset < 0:
            raise ValidationFailed("the baseline would start before 1970", field="baseline")
        return TimeWindow(window.start_ns - offset, window.end_ns - offset)
    return window.preceding()
