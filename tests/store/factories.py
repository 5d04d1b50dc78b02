"""Operation records for tests: literal ones and seeded random batches."""

from __future__ import annotations

import random
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from ailogs.services.operation_records import build_operation
from ailogs.services.pricing import PriceTable, find_prices
from ailogs.store import histogram
from ailogs.store.database import Database
from ailogs.store.enums import CostSource, OperationSource, OperationStatus
from ailogs.store.models import AiOperation
from ailogs.store.records import DAY_NS, HOUR_NS, NewOperation

T0 = 1_763_719_200 * 1_000_000_000  # 2025-11-21T10:00:00Z
NOW = T0 + 40 * DAY_NS
PRICES = PriceTable.load(find_prices())
MODELS = ("gpt-4o", "gpt-4o-mini-2024-07-18", "claude-3-5-sonnet-20241022", "llama-3-70b")
ERRORS = ("rate_limit", "timeout", "content_filter")


def record(**fields: Any) -> dict[str, Any]:
    """A valid ai.operation record with overridable fields."""
    base: dict[str, Any] = {
        "ts": T0,
        "service": "api",
        "workspace_id": "ws-1",
        "conversation_id": "conv-1",
        "correlation_id": "req-1",
        "operation": "chat",
        "provider": "openai",
        "model": "gpt-4o",
        "input_tokens": 1000,
        "output_tokens": 500,
        "duration_ms": 820.5,
        "status": "ok",
    }
    base.update(fields)
    return base


def random_records(seed: int, count: int, *, days: int = 3) -> list[dict[str, Any]]:
    """A reproducible mixed batch across workspaces, models, hours and outcomes."""
    rng = random.Random(seed)
    records = []
    for index in range(count):
        failed = rng.random() < 0.1
        fields: dict[str, Any] = {
            "ts": T0 + rng.randrange(days * DAY_NS),
            "workspace_id": rng.choice(("ws-a", "ws-b", "ws-c")),
            "conversation_id": f"conv-{rng.randrange(50)}",
            "correlation_id": f"req-{index}",
            "provider": rng.choice(("openai", "anthropic")),
            "model": rng.choice(MODELS),
            "operation": rng.choice(("chat", "embeddings")),
            "input_tokens": rng.randrange(0, 5000),
            "output_tokens": rng.randrange(0, 2000),
            "cache_read_tokens": rng.randrange(0, 200),
            "duration_ms": round(rng.lognormvariate(6, 1), 3),
            "status": "error" if failed else "ok",
            "seq": index,
        }
        if failed:
            fields["error_type"] = rng.choice(ERRORS)
        if rng.random() < 0.05:
            fields["cost_usd"] = round(rng.random(), 6)
        records.append(record(**fields))
    return records


def build(records: list[dict[str, Any]]) -> list[NewOperation]:
    """Validate and price records the way both ingest doors do."""
    return [
        build_operation(raw, prices=PRICES, source=OperationSource.API, now_ns=NOW)
        for raw in records
    ]


async def recount_usage(database: Database) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Brute-force hourly and daily usage straight from ai_operations."""
    async with database.session() as session:
        ops = (await session.scalars(select(AiOperation))).all()
    usage: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(
        lambda: {
            "requests": 0,
            "errors": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "cost_usd": Decimal(0),
            "unpriced": 0,
            "duration_us_sum": 0,
            "duration_ms_max": 0.0,
            "histogram": histogram.empty(),
        }
    )
    for op in ops:
        for granularity, width in (("hour", HOUR_NS), ("day", DAY_NS)):
            key = (
                op.workspace_id,
                granularity,
                op.start_time_ns - op.start_time_ns % width,
                op.provider,
                op.request_model,
                op.operation,
            )
            row = usage[key]
            row["requests"] += 1
            row["errors"] += op.status == OperationStatus.ERROR
            row["input_tokens"] += op.input_tokens
            row["output_tokens"] += op.output_tokens
            row["cost_usd"] += op.cost_usd or 0
            row["unpriced"] += op.cost_source == CostSource.UNPRICED
            row["duration_us_sum"] += round(op.duration_ms * 1000)
            row["duration_ms_max"] = max(row["duration_ms_max"], op.duration_ms)
            row["histogram"][histogram.bucket_index(op.duration_ms)] += 1
    return dict(usage)
