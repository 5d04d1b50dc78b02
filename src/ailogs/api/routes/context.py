"""GET /context: the lines around one line on its exact stream (grep -C)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from ailogs.api.agent_wiring import agent_of
from ailogs.api.deps import RuntimeDep, ScopeDep
from ailogs.api.responses import JSONAnswer
from ailogs.errors import ValidationFailed
from ailogs.services.context import parse_stream, parse_timestamp_ns, read_context

router = APIRouter(tags=["context"])


@router.get("/context", response_class=JSONAnswer)
async def line_context(
    runtime: RuntimeDep,
    scope: ScopeDep,
    stream: Annotated[
        str,
        Query(description='The entry\'s labels: {service_name="api", level="error"} or JSON.'),
    ],
    timestamp: Annotated[str, Query(description="The entry's timestamp (RFC3339Nano or ns).")],
    before: Annotated[int, Query(ge=0, description="Lines before (default 20).")] = 20,
    after: Annotated[int, Query(ge=0, description="Lines after (default 20).")] = 20,
) -> Response:
    """`before` lines older than the timestamp, the lines at it, and `after` newer ones."""
    agent = agent_of(runtime)
    for name, value in (("before", before), ("after", after)):
        if value > agent.context_max_lines:
            raise ValidationFailed(f"{name} is at most {agent.context_max_lines}", field=name)
    answer = await read_context(
        parse_stream(stream),
        parse_timestamp_ns(timestamp),
        before=before,
        after=after,
        loki=runtime.loki,
        scope=scope,
        redactor=agent.redactor,
    )
    return JSONAnswer(answer)
