"""GET /conversations/{conversation_id}: one conversation's totals and timeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from ailogs.api.auth import CallerDep, authorize_workspace
from ailogs.api.deps import SessionDep
from ailogs.api.responses import JSONAnswer
from ailogs.services.operations import TIMELINE_LIMIT, conversation_detail
from ailogs.store.repositories import ConversationRepository

router = APIRouter(tags=["operations"])


@router.get("/conversations/{conversation_id}", response_class=JSONAnswer)
async def get_conversation(
    request: Request,
    conversation_id: Annotated[str, Path(min_length=1, max_length=64)],
    caller: CallerDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=5000)] = TIMELINE_LIMIT,
) -> Response:
    """Turns, models, tokens, cost, errors and the timeline of a conversation."""
    detail = await conversation_detail(
        conversation_id, conversations=ConversationRepository.from_session(session), limit=limit
    )
    authorize_workspace(request, caller, detail["workspace_id"] or None)
    return JSONAnswer(detail)
