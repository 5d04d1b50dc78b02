"""POST /operations (batch ingest of AI operation records) and GET /metrics (JSON)."""

from __future__ import annotations

import time
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from ailogs.api.auth import CallerDep
from ailogs.api.deps import PricesDep, RuntimeDep, ScopeDep, SessionDep
from ailogs.api.responses import JSONAnswer
from ailogs.errors import ValidationFailed
from ailogs.services.ingest import ingest_operations
from ailogs.services.operations import model_metrics, resolve_window
from ailogs.services.service_rates import service_rates
from ailogs.store.enums import OperationSource
from ailogs.store.repositories import UsageRepository
from ailogs.store.writer import OperationWriter

router = APIRouter(tags=["operations"])


@router.post("/operations", response_class=JSONAnswer)
async def post_operations(
    request: Request, caller: CallerDep, prices: PricesDep, session: SessionDep
) -> Response:
    """Store a batch of AI operation records (at most 1000); re-sending one is a no-op.

    The body is a JSON array of records, or `{"operations": [...]}`. Invalid
    records, and records of workspaces the key may not touch, are reported by
    index with the reason; the valid ones are stored.
    """
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise ValidationFailed(f"the body is not JSON: {exc}", field="body") from None
    records = body.get("operations") if isinstance(body, dict) else body
    if not isinstance(records, list):
        raise ValidationFailed(
            "send a JSON array of records or {'operations': [...]}", field="body"
        )
    report = await ingest_operations(
        records,
        sink=OperationWriter.from_session(session),
        prices=prices,
        now_ns=time.time_ns(),
        source=OperationSource.API,
        may_write=caller.may_read,
    )
    return JSONAnswer(report.as_dict())


@router.get("/metrics", response_class=JSONAnswer)
async def get_metrics(
    runtime: RuntimeDep,
    scope: ScopeDep,
    session: SessionDep,
    workspace_id: Annotated[str | None, Query(max_length=64)] = None,
    time_range: Annotated[str | None, Query(description="e.g. 1h, 24h, 7d")] = None,
    start: Annotated[str | None, Query(description="RFC3339 or unix seconds")] = None,
    end: Annotated[str | None, Query(description="RFC3339 or unix seconds")] = None,
) -> Response:
    """Aggregated metrics as JSON: per-model latency and tokens (SQL), per-service rates (Loki)."""
    window = resolve_window(time_range, start, end, now_ns=time.time_ns(), default="1h")
    answer = await model_metrics(
        window, usage=UsageRepository.from_session(session), workspace_id=workspace_id
    )
    answer["services"] = await service_rates(window, loki=runtime.loki, tenant=scope.tenant)
    return JSONAnswer(answer)
