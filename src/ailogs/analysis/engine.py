"""One call for the whole analysis: patterns, templates, anomalies and correlation.

`/analyze` and `ailogs analyze` both call `analyze_records`, so the service and
the offline job cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ailogs.analysis.anomalies import (
    Anomaly,
    AnomalySettings,
    TemplateStat,
    detect_anomalies,
    template_statuses,
)
from ailogs.analysis.correlation import Correlation, correlate_request, correlate_window
from ailogs.analysis.patterns import PatternHit, PatternLibrary, detect_patterns
from ailogs.analysis.templates import TemplateMiner
from ailogs.domain import LogRecord, TimeWindow

# Templates beyond this many are dropped from the answer (they stay in the counts).
MAX_TEMPLATES = 200


@dataclass(frozen=True, slots=True)
class AnalysisReport:
    """Patterns, templates and anomalies of a window, plus its correlation."""

    patterns: tuple[PatternHit, ...]
    templates: tuple[TemplateStat, ...]
    anomalies: tuple[Anomaly, ...]
    correlation: Correlation
    current_window: TimeWindow
    baseline_window: TimeWindow

    def to_dict(self) -> dict[str, Any]:
        """`{"patterns","templates","anomalies","correlation"}` (DESIGN.md §4)."""
        return {
            "patterns": [hit.to_dict() for hit in self.patterns],
            "templates": [stat.to_dict() for stat in self.templates[:MAX_TEMPLATES]],
            "anomalies": [anomaly.to_dict() for anomaly in self.anomalies],
            "correlation": self.correlation.to_dict(),
        }


def analyze_records(
    current: Sequence[LogRecord],
    baseline: Sequence[LogRecord],
    *,
    library: PatternLibrary,
    current_window: TimeWindow,
    baseline_window: TimeWindow,
    settings: AnomalySettings | None = None,
) -> AnalysisReport:
    """Analyse a window against its baseline with the given pattern library."""
    cfg = settings or AnomalySettings()
    templates = template_statuses(
        current,
        baseline,
        current_window=current_window,
        baseline_window=baseline_window,
        settings=cfg,
        miner_factory=TemplateMiner,
    )
    anomalies = detect_anomalies(
        current,
        baseline,
        current_window=current_window,
        baseline_window=baseline_window,
        settings=cfg,
        template_stats=templates,
    )
    correlation = correlate_window(
        current,
        baseline,
        current_window=current_window,
        baseline_window=baseline_window,
        library=library,
        min_samples=cfg.min_samples,
    )
    return AnalysisReport(
        patterns=tuple(detect_patterns(current, library)),
        templates=tuple(stat for stat in templates if stat.count or stat.baseline_count),
        anomalies=tuple(anomalies),
        correlation=correlation,
        current_window=current_window,
        baseline_window=baseline_window,
    )


def worst_request(records: Sequence[LogRecord]) -> str | None:
    """The request id (trace or correlation id) with the most error lines, if any."""
    errors: dict[str, int] = {}
    for record in records:
        if not record.is_error:
            continue
        key = record.field_str("trace_id") or record.field_str("correlation_id")
        if key is not None:
            errors[key] = errors.get(key, 0) + 1
    if not errors:
        return None
    return min(errors, key=lambda key: (-errors[key], key))


def correlate_worst_request(
    records: Sequence[LogRecord], *, library: PatternLibrary | None = None
) -> Correlation | None:
    """The correlation of the request with the most errors, for a report's example graph."""
    key = worst_request(records)
    if key is None:
        return None
    chosen = [
        r for r in records if (r.field_str("trace_id") or r.field_str("correlation_id")) == key
    ]
    return correlate_request(chosen, correlation_id=key, library=library)
