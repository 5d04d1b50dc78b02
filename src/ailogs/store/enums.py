"""Outcomes and kinds stored in the operations tables (stored as their string values)."""

from __future__ import annotations

from enum import StrEnum


class OperationStatus(StrEnum):
    """Whether an LLM call succeeded."""

    OK = "ok"
    ERROR = "error"


class CostSource(StrEnum):
    """Where an operation's cost came from."""

    RECORD = "record"  # the record carried its own cost
    COMPUTED = "computed"  # priced from config/model_prices.yaml
    UNPRICED = "unpriced"  # unknown model: cost is null


class OperationSource(StrEnum):
    """Which door an operation came through."""

    API = "api"
    LOKI = "loki"


class Granularity(StrEnum):
    """Rollup bucket width."""

    HOUR = "hour"
    DAY = "day"


class AuditOutcome(StrEnum):
    """What happened to an audited request, denials included."""

    OK = "ok"
    ERROR = "error"
    BAD_KEY = "bad_key"
    WRONG_WORKSPACE = "wrong_workspace"
    RATE_LIMITED = "rate_limited"
    TOO_EXPENSIVE = "too_expensive"
