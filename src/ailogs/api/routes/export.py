"""POST /export: every line a query matches, streamed as ndjson, csv or json."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import Field
from starlette.requests import Request
from starlette.responses import StreamingResponse

from ailogs.api.agent_wiring import agent_of
from ailogs.api.auth import CallerDep, authorize_workspace
from ailogs.api.deps import RuntimeDep
from ailogs.domain import Direction, Mode
from ailogs.errors import ValidationFailed
from ailogs.services.export import MEDIA_TYPES, ExportFormat, open_export
from ailogs.services.query import plan_for
from ailogs.services.request_spec import QueryParams, build_spec

router = APIRouter(tags=["export"])


class ExportRequest(QueryParams):
    """The `/query` parameters plus the export's own."""

    mode: str = Field(default=Mode.TROUBLESHOOT.value, description="As for /query.")
    format: ExportFormat = Field(default=ExportFormat.NDJSON, description="ndjson, csv or json.")
    max_lines: int | None = Field(
        default=None, description="Stop after this many lines (capped by the server's maximum)."
    )


@router.post("/export", response_model=None)
async def export_logs(
    http: Request,
    runtime: RuntimeDep,
    caller: CallerDep,
    request: Annotated[ExportRequest, Body()],
) -> StreamingResponse:
    """Stream every matching line exactly once, oldest first unless `direction=backward`.

    The stream ends with a status (`{"_status": ...}` for ndjson, a `# status:` line for
    csv, `"status"` for json) saying whether the export is complete.
    """
    # The workspace arrives in the body: authorise it now that it is read.
    authorize_workspace(http, caller, request.workspace_id)
    scope = runtime.query_scope(caller.tenant)
    agent = agent_of(runtime)
    params = request.model_copy(
        update={"limit": None, "direction": request.direction or Direction.FORWARD.value}
    )
    spec = build_spec(params, request.mode, runtime.spec_limits)
    max_lines = agent.export_max_lines if request.max_lines is None else request.max_lines
    if not 1 <= max_lines <= agent.export_max_lines:
        raise ValidationFailed(
            f"max_lines must be between 1 and {agent.export_max_lines}", field="max_lines"
        )
    await agent.guard.check(spec, loki=runtime.loki, scope=scope)
    logql = plan_for(spec, runtime.library).log_query
    stream = await open_export(
        spec,
        logql,
        request.format,
        loki=runtime.loki,
        scope=scope,
        max_lines=max_lines,
        page_size=agent.export_page_size,
        redact=agent.redactor.redact_many if agent.redactor.enabled else None,
        redact_metadata=agent.redactor.redact_metadata if agent.redactor.enabled else None,
    )
    filename = f"ailogs-export.{request.format.value}"
    return StreamingResponse(
        stream,
        media_type=MEDIA_TYPES[request.format],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Ailogs-LogQL": logql.encode("ascii", "backslashreplace").decode(),
        },
    )
