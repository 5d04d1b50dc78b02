"""The normalised operation the write path stores: validated, priced, with its id."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from ailogs.store.enums import CostSource, OperationSource, OperationStatus

HOUR_NS = 3_600 * 1_000_000_000
DAY_NS = 24 * HOUR_NS


@dataclass(slots=True)
class NewOperation:
    """One LLM call ready to insert into `ai_operations` (field names are its columns).

    Treat it as immutable. Not declared frozen: a frozen dataclass sets each of
    its 28 fields through `object.__setattr__`, which costs several µs per
    operation on the ingest path.
    `attributes_json` is the JSON text of `attributes` when the validator has
    already encoded it (the write path then stores that text); it is not a column.
    """

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
    attributes_json: str | None = field(default=None, compare=False, repr=False)

    @property
    def is_error(self) -> bool:
        """True when the call failed."""
        return self.status is OperationStatus.ERROR

    @property
    def duration_us(self) -> int:
        """Duration in whole microseconds, the unit rollups sum exactly."""
        return round(self.duration_ms * 1000)


# The columns of ai_operations, in the order NewOperation declares them.
OPERATION_COLUMNS: tuple[str, ...] = tuple(
    f.name for f in fields(NewOperation) if f.name != "attributes_json"
)
