"""Per-service request and error rates from Loki metric queries (for `GET /metrics`)."""

from __future__ import annotations

from typing import Any, Protocol

from ailogs.domain import TimeWindow, format_duration_s
from ailogs.errors import LokiError
from ailogs.loki.models import QueryResponse

ALL_LINES = '{service_name=~".+"}'
ERROR_LINES = '{service_name=~".+", level=~"error|critical|fatal"}'


class LokiInstantQuery(Protocol):
    """The part of `LokiClient` used here."""

    async def query(
        self, query: str, *, time_ns: int, limit: int | None = ..., tenant: str | None = ...
    ) -> QueryResponse:
        """Run an instant metric query."""
        ...


def _by_service(response: QueryResponse) -> dict[str, float]:
    counts: dict[str, float] = {}
    for series in response.series:
        service = series.metric.get("service_name", "unknown")
        if series.values:
            counts[service] = counts.get(service, 0.0) + series.values[-1][1]
    return counts


async def service_rates(
    window: TimeWindow, *, loki: LokiInstantQuery, tenant: str | None
) -> dict[str, Any]:
    """Lines, errors, per-second rates and error ratio per service over the window.

    Loki failures do not fail the caller: the answer says `available: false`
    with the error code, and the SQL half of `/metrics` still answers.
    """
    length = format_duration_s(int(window.duration_s))
    try:
        lines = await loki.query(
            f"sum by (service_name) (count_over_time({ALL_LINES}[{length}]))",
            time_ns=window.end_ns,
            tenant=tenant,
        )
        errors = await loki.query(
            f"sum by (service_name) (count_over_time({ERROR_LINES}[{length}]))",
            time_ns=window.end_ns,
            tenant=tenant,
        )
    except LokiError as exc:
        return {"available": False, "error": exc.code.value, "services": []}
    total, failed = _by_service(lines), _by_service(errors)
    seconds = max(window.duration_s, 1.0)
    services = [
        {
            "service": service,
            "lines": int(count),
            "errors": int(failed.get(service, 0)),
            "lines_per_s": round(count / seconds, 6),
            "errors_per_s": round(failed.get(service, 0) / seconds, 6),
            "error_ratio": round(failed.get(service, 0) / count, 6) if count else 0.0,
        }
        for service, count in sorted(total.items())
    ]
    return {"available": True, "services": services}
