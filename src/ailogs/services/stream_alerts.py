"""Pattern alerts, aggregated: the first match at once, then one summary per window.

A burst of 1000 matches of one pattern becomes two frames for a subscriber: the
first match immediately, and one summary with the count at the end of the
window. A quiet pattern alerts again immediately on its next match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ailogs.domain import LogRecord, format_timestamp
from ailogs.services.stream_frames import ServerFrame, encode

_EXAMPLE_CHARS = 1000


class PatternInfo(Protocol):
    """The parts of a pattern definition an alert shows."""

    @property
    def id(self) -> str:
        """Stable pattern id, e.g. `connectivity.timeout`."""
        ...

    @property
    def category(self) -> str:
        """The pattern's category."""
        ...

    @property
    def severity(self) -> str:
        """info, low, medium, high or critical."""
        ...

    @property
    def recommendation(self) -> str:
        """What to do about it."""
        ...


class PatternMatcher(Protocol):
    """What the hub needs from the pattern library (`analysis.patterns.PatternLibrary`)."""

    def match_lines(self, lines: Sequence[str]) -> list[tuple[str, ...]]:
        """Pattern ids matching each line, in one scan."""
        ...

    def select(self, ids_or_categories: Any) -> frozenset[str]:
        """Expand pattern ids and category names into pattern ids."""
        ...

    def get(self, pattern_id: str) -> PatternInfo | None:
        """The definition of one pattern."""
        ...


@dataclass(slots=True)
class _Window:
    opened_at: float
    last_sent_at: float
    pending: int
    example: LogRecord


@dataclass(frozen=True, slots=True)
class AlertDue:
    """An alert to send: pattern, matches since the last alert, example line."""

    pattern_id: str
    count: int
    window_s: float
    example: LogRecord


class AlertAggregator:
    """Per-subscriber alert state: at most one frame per pattern per interval."""

    def __init__(self, interval_s: float) -> None:
        self._interval_s = interval_s
        self._windows: dict[str, _Window] = {}

    def observe(self, pattern_id: str, record: LogRecord, now: float) -> AlertDue | None:
        """Count one match; return an alert to send now when the pattern was quiet."""
        window = self._windows.get(pattern_id)
        if window is None or (
            window.pending == 0 and now - window.last_sent_at >= self._interval_s
        ):
            self._windows[pattern_id] = _Window(now, now, 0, record)
            return AlertDue(pattern_id, 1, 0.0, record)
        if window.pending == 0:
            window.opened_at = now
        window.pending += 1
        window.example = record
        return None

    def due(self, now: float) -> list[AlertDue]:
        """Summaries whose interval has passed, with their counts; resets them."""
        ready: list[AlertDue] = []
        for pattern_id, window in self._windows.items():
            if window.pending and now - window.last_sent_at >= self._interval_s:
                ready.append(
                    AlertDue(
                        pattern_id,
                        window.pending,
                        round(now - window.last_sent_at, 3),
                        window.example,
                    )
                )
                window.pending = 0
                window.last_sent_at = now
        return ready

    def forget(self, keep: frozenset[str]) -> None:
        """Drop state of patterns the subscriber no longer asks for."""
        for pattern_id in [p for p in self._windows if p not in keep]:
            del self._windows[pattern_id]


def alert_frame(due: AlertDue, pattern: PatternInfo | None) -> str:
    """The `alert` frame for one due alert."""
    example = due.example
    fields: dict[str, Any] = {
        "pattern_id": due.pattern_id,
        "count": due.count,
        "window_s": due.window_s,
        "example": {
            "timestamp": format_timestamp(example.timestamp_ns),
            "service": example.service,
            "level": example.level,
            "line": example.line[:_EXAMPLE_CHARS],
        },
    }
    if pattern is not None:
        fields["category"] = pattern.category
        fields["severity"] = str(pattern.severity)
        fields["recommendation"] = pattern.recommendation
    return encode(ServerFrame.ALERT, **fields)
