"""GET /workspace/{workspace_id}/summary: usage per model from the rollups."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from ailogs.api.deps import ScopeDep, SessionDep
from ailogs.api.responses import JSONAnswer
from ailogs.services.operations import resolve_window, workspace_summary
from ailogs.store.repositories import UsageRepository

router = APIRouter(tags=["operations"])


@router.get("/workspace/{workspace_id}/summary", response_class=JSONAnswer)
async def get_workspace_summary(
    workspace_id: Annotated[str, Path(min_length=1, max_length=64)],
    scope: ScopeDep,
    session: SessionDep,
    time_range: Annotated[str | None, Query(description="e.g. 24h, 7d, 30d")] = None,
    start: Annotated[str | None, Query(description="RFC3339 or unix seconds")] = None,
    end: Annotated[str | None, Query(description="RFC3339 or unix seconds")] = None,
) -> Response:
    """Requests, tokens, cost, errors and p50/p95 per model, with the trend vs the window before."""
    del scope  # resolving it authorised the workspace for the caller's key
    window = resolve_window(time_range, start, end, now_ns=time.time_ns(), default="24h")
    summary = await workspace_summary(
        workspace_id, window, usage=UsageRepository.from_session(session)
    )
    return JSONAnswer(summary)
