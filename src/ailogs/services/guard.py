"""Cost guardrails: estimate a query from Loki's index before running it.

`/index/stats` answers from the index alone (no chunk reads), so it is cheap;
the estimate is still cached briefly per (tenant, selector, minute-rounded
window) so an agent's follow-up questions do not pay it twice.

Windows up to `free_window_ns` (1h by default) are not estimated: the round
trip would cost more than it saves. Policy for the rest: a query whose selector
would read more than `budget_bytes` is refused with `QUERY_TOO_EXPENSIVE`,
naming the heaviest services (from `/index/volume`) and the window that would
fit. Queries without `services` select every stream that has a `service_name`
(never every stream: the selector always carries a non-empty `service_name`
matcher); they stay allowed under the same byte budget unless
`allow_all_services` is off.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ailogs.domain import NS_PER_SECOND, QuerySpec
from ailogs.errors import LokiError, QueryTooExpensive
from ailogs.logql import selector_for
from ailogs.loki.client import LokiClient
from ailogs.loki.models import IndexStats
from ailogs.services.query import QueryScope

log = logging.getLogger(__name__)

_ROUND_NS = 60 * NS_PER_SECOND
_CACHE_SIZE = 1024
_SUGGESTED_SERVICES = 5


@dataclass
class CostGuard:
    """Refuses queries above a byte budget; remembers estimates for `ttl_s` seconds."""

    budget_bytes: int = 50 * 1024**3
    allow_all_services: bool = True
    ttl_s: float = 30.0
    # Windows up to this long are not estimated: cheap enough, and no extra round trip.
    free_window_ns: int = 3600 * NS_PER_SECOND
    clock: Callable[[], float] = time.monotonic
    _estimates: OrderedDict[tuple[Any, ...], tuple[float, IndexStats]] = field(
        default_factory=OrderedDict
    )

    async def estimate(self, spec: QuerySpec, *, loki: LokiClient, scope: QueryScope) -> IndexStats:
        """Loki's index estimate for the spec's selector (cached briefly)."""
        selector = selector_for(spec.services)
        window = spec.window
        key = (scope.tenant, selector, window.start_ns // _ROUND_NS, -(-window.end_ns // _ROUND_NS))
        now = self.clock()
        cached = self._estimates.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        stats = await loki.index_stats(
            selector, start_ns=window.start_ns, end_ns=window.end_ns, tenant=scope.tenant
        )
        if self.ttl_s > 0:
            self._estimates[key] = (now + self.ttl_s, stats)
            self._estimates.move_to_end(key)
            while len(self._estimates) > _CACHE_SIZE:
                self._estimates.popitem(last=False)
        return stats

    async def verdict(
        self, spec: QuerySpec, *, loki: LokiClient, scope: QueryScope
    ) -> dict[str, Any]:
        """What the guard decides for a spec, with the estimate and a narrower suggestion."""
        if not spec.services and not self.allow_all_services:
            return {
                "allowed": False,
                "reason": "name at least one service (all-services queries are disabled)",
                "budget_bytes": self.budget_bytes,
                "suggestion": await self._suggestion(spec, loki=loki, scope=scope, stats=None),
            }
        stats = await self.estimate(spec, loki=loki, scope=scope)
        allowed = self.budget_bytes == 0 or stats.bytes <= self.budget_bytes
        verdict: dict[str, Any] = {
            "allowed": allowed,
            "estimated_bytes": stats.bytes,
            "estimated_entries": stats.entries,
            "estimated_streams": stats.streams,
            "budget_bytes": self.budget_bytes,
        }
        if not allowed:
            verdict["reason"] = (
                f"the query would read about {stats.bytes:,} bytes, "
                f"above the budget of {self.budget_bytes:,}"
            )
            verdict["suggestion"] = await self._suggestion(
                spec, loki=loki, scope=scope, stats=stats
            )
        return verdict

    async def check(self, spec: QuerySpec, *, loki: LokiClient, scope: QueryScope) -> None:
        """Raise QueryTooExpensive when the spec is over budget (short windows pass unasked)."""
        if spec.window.duration_ns <= self.free_window_ns and (
            spec.services or self.allow_all_services
        ):
            return
        try:
            verdict = await self.verdict(spec, loki=loki, scope=scope)
        except LokiError as exc:
            # No estimate (old Loki, index gateway down): the query itself will tell.
            log.warning("cost estimate unavailable", extra={"reason": exc.message})
            return
        if verdict["allowed"]:
            return
        suggestion = verdict.get("suggestion") or {}
        hints = []
        if suggestion.get("services"):
            hints.append("name services, e.g. services=" + ",".join(suggestion["services"][:3]))
        if suggestion.get("time_range"):
            hints.append(f"or shorten the window to time_range={suggestion['time_range']}")
        remediation = "; ".join(hints) if hints else None
        raise QueryTooExpensive(str(verdict["reason"]), remediation=remediation)

    async def _suggestion(
        self, spec: QuerySpec, *, loki: LokiClient, scope: QueryScope, stats: IndexStats | None
    ) -> dict[str, Any]:
        suggestion: dict[str, Any] = {}
        window = spec.window
        try:
            volume = await loki.index_volume(
                selector_for(spec.services),
                start_ns=window.start_ns,
                end_ns=window.end_ns,
                limit=_SUGGESTED_SERVICES,
                tenant=scope.tenant,
            )
        except Exception:  # a suggestion is best effort; the refusal stands without it
            volume = None
        if volume is not None:
            ranked = sorted(
                (
                    (float(series.values[-1][1]), series.metric.get("service_name", ""))
                    for series in volume.series
                    if series.values and series.metric.get("service_name")
                ),
                reverse=True,
            )
            suggestion["services"] = [name for _, name in ranked[:_SUGGESTED_SERVICES]]
            suggestion["bytes_by_service"] = {name: int(size) for size, name in ranked}
        if stats is not None and stats.bytes > 0 and self.budget_bytes > 0:
            seconds = int(window.duration_s * self.budget_bytes / stats.bytes)
            if seconds >= 60:
                suggestion["time_range"] = f"{seconds // 60}m"
        return suggestion
