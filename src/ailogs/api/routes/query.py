"""GET /query: the mode-based question agents ask most."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from ailogs.analysis.budget import compact_answer
from ailogs.api.agent_wiring import agent_of
from ailogs.api.audit_trail import CallFacts, note_call
from ailogs.api.deps import RuntimeDep, ScopeDep
from ailogs.api.responses import JSONAnswer
from ailogs.domain import Mode
from ailogs.services.query import STALE_OK, plan_query
from ailogs.services.query_pages import query_with_cursor
from ailogs.services.request_spec import QueryParams, build_spec

router = APIRouter(tags=["query"])
JSON = "application/json"


@router.get("/query", response_class=JSONAnswer)
async def query_logs(
    request: Request,
    runtime: RuntimeDep,
    scope: ScopeDep,
    params: Annotated[QueryParams, Query()],
    mode: Annotated[
        str, Query(description="troubleshoot, performance, errors, audit, conversation")
    ] = Mode.TROUBLESHOOT.value,
    cursor: Annotated[
        str | None, Query(description="`next_cursor` of the previous page, passed back as is.")
    ] = None,
) -> Response:
    """Run a mode-based query; the answer echoes the LogQL, the window and cache status.

    A truncated answer carries `next_cursor`; pass it back with the same parameters for
    the next page (no line lost or repeated). `max_tokens` compacts the answer.
    """
    spec = build_spec(params, mode, runtime.spec_limits)
    agent = agent_of(runtime)
    if params.dry_run:
        plan = await plan_query(spec, loki=runtime.loki, scope=scope, patterns=runtime.library)
        plan["guard"] = await agent.guard.verdict(spec, loki=runtime.loki, scope=scope)
        return JSONAnswer(plan)
    if cursor is None:
        try:
            await agent.guard.check(spec, loki=runtime.loki, scope=scope)
        except STALE_OK:
            pass  # Loki is failing: the query below serves a stale answer or the same error
    page = await query_with_cursor(
        spec,
        cursor=cursor,
        codec=agent.cursors,
        loki=runtime.loki,
        cache=runtime.cache,
        scope=scope,
        redactor=agent.redactor,
        patterns=runtime.library,
        detect=runtime.detect_patterns,
    )
    stats = page.stats
    note_call(
        request,
        CallFacts(
            mode=spec.mode.value,
            logql=page.logql,
            bytes_processed=stats.get("bytes_processed"),
            lines=stats.get("returned"),
        ),
    )
    if params.max_tokens is not None:
        return JSONAnswer(compact_answer(page.to_dict(), params.max_tokens))
    body = page.to_bytes()
    return JSONAnswer(page.to_dict()) if body is None else Response(body, media_type=JSON)
