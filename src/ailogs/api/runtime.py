"""The adapters one process builds at start and closes at stop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ailogs.analysis.patterns import PatternLibrary, detect_patterns
from ailogs.api.metrics import ServiceMetrics
from ailogs.cache.base import QueryCache
from ailogs.domain import NS_PER_SECOND, LogRecord, parse_duration_ns
from ailogs.loki.client import LokiClient
from ailogs.services.access import AccessControl
from ailogs.services.agent_kit import AgentKit
from ailogs.services.pricing import PriceTable
from ailogs.services.query import QueryScope
from ailogs.services.request_spec import SpecLimits
from ailogs.services.stream_hub import StreamHub
from ailogs.settings import Settings
from ailogs.store.database import Database

# A component check for /health: returns a dict with at least {"status": "up"|"down"|...}.
HealthCheck = Callable[[], Awaitable[dict[str, Any]]]


@dataclass
class Runtime:
    """Everything a request handler may use; built once by the lifespan."""

    settings: Settings
    metrics: ServiceMetrics
    loki: LokiClient
    cache: QueryCache
    library: PatternLibrary
    stream_hub: StreamHub | None = None
    # Keys, workspaces, rate limits, denial audit; None only in apps built without it.
    access: AccessControl | None = None
    health_checks: dict[str, HealthCheck] = field(default_factory=dict)
    # Cursors, cost guard, redaction, export limits (api.agent_wiring); None until installed.
    agent: AgentKit | None = None
    # The operations store and the model prices (api.store_wiring); None when not built.
    database: Database | None = None
    prices: PriceTable | None = None
    # Objects other features attach (store engine, stream hub, ...), closed in reverse order.
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    @property
    def spec_limits(self) -> SpecLimits:
        """Request bounds from the limits settings."""
        limits = self.settings.limits
        return SpecLimits(
            max_window_ns=parse_duration_ns(limits.max_window),
            default_window_ns=parse_duration_ns(limits.default_window),
            max_limit=limits.max_limit,
            default_limit=limits.default_limit,
            max_param_length=limits.max_param_length,
            max_services=limits.max_services,
            live_align_ns=self.settings.cache.align_s * NS_PER_SECOND,
        )

    def detect_patterns(self, records: Sequence[LogRecord]) -> list[dict[str, Any]]:
        """The pattern library's hits in some records, in the API's shape."""
        return [hit.to_dict() for hit in detect_patterns(records, self.library)]

    def query_scope(self, tenant: str | None = None) -> QueryScope:
        """The Loki scope for a caller (its tenant, or the configured one)."""
        loki = self.settings.loki
        return QueryScope(
            tenant=tenant if tenant is not None else loki.tenant,
            ingestion_delay_s=loki.ingestion_delay_s,
            loki_max_entries=loki.max_entries,
            cache_live_ttl_s=self.settings.cache.live_ttl_s,
            cache_immutable_ttl_s=self.settings.cache.immutable_ttl_s,
        )
