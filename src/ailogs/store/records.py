"""The normalised operation the write path stores: validated, priced, with its id."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ailogs.store.enums import CostSource, OperationSource, OperationStatus

HOUR_NS = 3_600 * 1_000_000_000
DAY_NS = 24 * HOUR_NS


@dataclass(frozen=True, slots=True)
class NewOperation:
    """One LLM call ready to insert into `ai_operations` (field names are its columns)."""

    id: str
    start_time_ns: int
    service: str
    operation: str
    provider: str
    request_model: str
    workspace_id: str = ""
    trace_id: str | None = None
    span_id: str | None = None
    parent_span_id: str | None = None
    correlation_id: str | None = None
    conversation_id: str | None = None
    response_model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    reasoning_tokens: int = 0
    duration_ms: float = 0.0
    ttft_ms: float | None = None
    status: OperationStatus = OperationStatus.OK
    error_type: str | None = None
    http_status: int | None = None
    cost_usd: Decimal | None = None
    cost_source: CostSource = CostSource.UNPRICED
    price_version: str | None = None
    source: OperationSource = OperationSource.API
    ingested_at_ns: int = 0
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def is_error(self) -> bool:
        """True when the call failed."""
        return self.status is OperationStatus.ERROR

    @property
    def duration_us(self) -> int:
        """Duration in whole microseconds, the unit rollups sum exactly."""
        return round(self.duration_ms * 1000)

    def row(self) -> dict[str, Any]:
        """The column values for an INSERT."""
        return {
            "id": self.id,
            "start_time_ns": self.start_time_ns,
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "parent_span_id": self.parent_span_id,
            "correlation_id": self.correlation_id,
            "conversation_id": self.conversation_id,
            "workspace_id": self.workspace_id,
            "service": self.service,
            "operation": self.operation,
            "provider": self.provider,
            "request_model": self.request_model,
            "response_model": self.response_model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "duration_ms": self.duration_ms,
            "ttft_ms": self.ttft_ms,
            "status": self.status,
            "error_type": self.error_type,
            "http_status": self.http_status,
            "cost_usd": self.cost_usd,
            "cost_source": self.cost_source,
            "price_version": self.price_version,
            "source": self.source,
            "ingested_at_ns": self.ingested_at_ns,
            "attributes": self.attributes,
        }
