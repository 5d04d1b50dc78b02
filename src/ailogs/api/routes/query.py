"""GET /query: the mode-based question agents ask most."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from ailogs.api.deps import RuntimeDep, ScopeDep
from ailogs.api.responses import JSONAnswer
from ailogs.domain import Mode
from ailogs.services.query import plan_query, run_query
from ailogs.services.request_spec import QueryParams, build_spec

router = APIRouter(tags=["query"])


@router.get("/query", response_class=JSONAnswer)
async def query_logs(
    runtime: RuntimeDep,
    scope: ScopeDep,
    params: Annotated[QueryParams, Query()],
    mode: Annotated[
        str, Query(description="troubleshoot, performance, errors, audit, conversation")
    ] = Mode.TROUBLESHOOT.value,
) -> Response:
    """Run a mode-based query; the answer echoes the LogQL, the window and cache status."""
    spec = build_spec(params, mode, runtime.spec_limits)
    if params.dry_run:
        plan = await plan_query(spec, loki=runtime.loki, scope=scope, patterns=runtime.library)
        return JSONAnswer(plan)
    answer = await run_query(
        spec,
        loki=runtime.loki,
        cache=runtime.cache,
        scope=scope,
        patterns=runtime.library,
        detect=runtime.detect_patterns,
    )
    return JSONAnswer(answer)
