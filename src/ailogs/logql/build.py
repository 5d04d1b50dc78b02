"""Turn a QuerySpec into the LogQL that answers it.

Layout (DESIGN.md §3): stream labels (`service_name`, `level`) in the selector;
structured metadata (`correlation_id`, `conversation_id`, `workspace_id`,
`model`) filtered right after it; the user's literal search as a line filter;
numbers extracted with `| json <named fields>` only where a mode needs them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ailogs.domain import Mode, QuerySpec, format_duration_s
from ailogs.logql.escape import quote_meta, quote_string, regex_alternation

# Anchored RE2 alternations for stream-label matchers (case-insensitive: applications
# disagree on `ERROR` versus `error`).
WARNING_OR_WORSE = "(?i)warn|warning|error|err|critical|crit|fatal|panic|alert|emerg|emergency"
ERROR_OR_WORSE = "(?i)error|err|critical|crit|fatal|panic|alert|emerg|emergency"
# DESIGN.md §4: audit mode is `event=~"audit.*|config.*|auth.*"`.
AUDIT_EVENTS = "audit.*|config.*|auth.*"
# Name of the label the troubleshoot query's `regexp` stage sets on a pattern hit.
PATTERN_HIT_LABEL = "ailogs_pattern"
QUANTILES = (0.5, 0.95, 0.99)

_METADATA_FIELDS = ("workspace_id", "conversation_id", "correlation_id", "model")


@dataclass(frozen=True, slots=True)
class LogQLPlan:
    """The LogQL one request runs: a log query and, for performance, metric queries."""

    log_query: str
    # quantile -> instant metric query over the whole window, `by (service_name)`.
    quantile_queries: tuple[tuple[float, str], ...] = ()


def selector_for(services: tuple[str, ...]) -> str:
    """The stream selector for some services, or all that have a `service_name`."""
    return "{" + _service_matcher(services) + "}"


def _service_matcher(services: tuple[str, ...]) -> str:
    if not services:
        # `.+` is not empty-compatible, so Loki accepts it; it selects every AI stream.
        return 'service_name=~".+"'
    if any(not service for service in services):
        raise ValueError("service names must not be empty")
    if len(set(services)) == 1:
        return f"service_name={quote_string(services[0])}"
    return f"service_name=~{quote_string(regex_alternation(services))}"


def _selector(spec: QuerySpec, level_regex: str | None = None) -> str:
    matchers = [_service_matcher(spec.services)]
    if level_regex is not None:
        matchers.append(f"level=~{quote_string(level_regex)}")
    return "{" + ", ".join(matchers) + "}"


def _filters(spec: QuerySpec) -> str:
    """Structured-metadata filters, then the literal line filter."""
    stages: list[str] = []
    for name in _METADATA_FIELDS:
        value = getattr(spec, name)
        if value is not None:
            stages.append(f" | {name}={quote_string(value)}")
    if spec.search:
        stages.append(f" |= {quote_string(spec.search)}")
    return "".join(stages)


def all_lines_query(spec: QuerySpec) -> str:
    """Every line of the spec's services that passes its metadata and search filters."""
    return _selector(spec) + _filters(spec)


def build_plan(spec: QuerySpec, *, pattern_regex: str | None = None) -> LogQLPlan:
    """Build the LogQL for a spec.

    `pattern_regex` is the pattern library's RE2 union; in troubleshoot mode a line
    that matches it is returned even when its level is below warning.
    """
    base = _filters(spec)
    mode = spec.mode
    if mode is Mode.ERRORS:
        return LogQLPlan(_selector(spec, ERROR_OR_WORSE) + base)
    if mode is Mode.TROUBLESHOOT:
        if not pattern_regex:
            return LogQLPlan(_selector(spec, WARNING_OR_WORSE) + base)
        capture = f"(?P<{PATTERN_HIT_LABEL}>{pattern_regex})"
        query = (
            _selector(spec)
            + base
            + f" | regexp {quote_string(capture)}"
            + f' | level=~{quote_string(WARNING_OR_WORSE)} or {PATTERN_HIT_LABEL}!=""'
        )
        return LogQLPlan(query)
    if mode is Mode.AUDIT:
        return LogQLPlan(
            _selector(spec) + base + f" | json event | event=~{quote_string(AUDIT_EVENTS)}"
        )
    if mode is Mode.CONVERSATION:
        if spec.conversation_id is None:
            raise ValueError("conversation mode needs a conversation_id")
        return LogQLPlan(_selector(spec) + base)
    if mode is Mode.PERFORMANCE:
        carrying = _selector(spec) + base + ' | json duration_ms | __error__="" | duration_ms!=""'
        range_ = format_duration_s(int(spec.window.duration_s))
        quantiles = tuple(
            (
                q,
                f"quantile_over_time({q}, {carrying} | unwrap duration_ms"
                f' | __error__="" [{range_}]) by (service_name)',
            )
            for q in QUANTILES
        )
        return LogQLPlan(carrying, quantiles)
    raise ValueError(f"unknown mode {mode!r}")


__all__ = ["LogQLPlan", "all_lines_query", "build_plan", "quote_meta", "selector_for"]
