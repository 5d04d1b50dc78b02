"""Access control as FastAPI dependencies, for HTTP routes and WebSocket handshakes.

`require_caller` runs once per request (FastAPI caches it): it authenticates the
`Authorization: Bearer` key, checks a `workspace_id` named in the query or path,
applies the caller's rate limit, and returns the `Principal`. `get_caller_scope`
adds the rule that a workspace-restricted key must name a workspace before any
log is read, and hands the key's Loki tenant to the query path.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from ailogs.api.runtime import Runtime
from ailogs.services.access import Admission, Principal, RequestFacts
from ailogs.services.query import QueryScope

WORKSPACE_PARAM = "workspace_id"


def _runtime(connection: HTTPConnection) -> Runtime:
    runtime: Runtime = connection.app.state.runtime
    return runtime


def client_address(connection: HTTPConnection) -> str:
    """The peer address (uvicorn runs without proxy headers, so it is the socket's)."""
    return connection.client.host if connection.client else "unknown"


def request_facts(connection: HTTPConnection, *, workspace_required: bool = True) -> RequestFacts:
    """What the door knows about a request or handshake, before the route runs."""
    workspace = connection.query_params.get(WORKSPACE_PARAM) or connection.path_params.get(
        WORKSPACE_PARAM
    )
    state_id = connection.scope.get("state", {}).get("request_id")
    return RequestFacts(
        path=connection.url.path,
        client=client_address(connection),
        authorization=connection.headers.get("authorization"),
        workspace_id=workspace or None,
        request_id=state_id if isinstance(state_id, str) else None,
        workspace_required=workspace_required,
    )


async def admit_connection(
    connection: HTTPConnection, *, workspace_required: bool = False
) -> Admission:
    """Admit a request or WebSocket handshake, or raise Unauthorized/Forbidden/RateLimited."""
    runtime = _runtime(connection)
    facts = request_facts(connection, workspace_required=workspace_required)
    if runtime.access is None:
        principal = Principal(None, runtime.settings.loki.tenant, client=facts.client)
        return Admission(principal, None)
    return await runtime.access.admit(facts)


async def require_caller(connection: HTTPConnection) -> Principal:
    """The authenticated, rate-limited caller of this request."""
    admission = await admit_connection(connection)
    connection.scope.setdefault("state", {})["principal"] = admission.principal
    return admission.principal


CallerDep = Annotated[Principal, Depends(require_caller)]


def authorize_workspace(
    connection: HTTPConnection, caller: Principal, workspace_id: str | None
) -> None:
    """Raise Forbidden (audited) when `workspace_id` is outside the caller's key.

    Routes whose workspace arrives in a JSON body call this once they have read it.
    """
    runtime = _runtime(connection)
    if runtime.access is None or caller.may_read(workspace_id):
        return
    runtime.access.authorize_workspace(caller, workspace_id, request_facts(connection))


async def get_caller_scope(connection: HTTPConnection, caller: CallerDep) -> QueryScope:
    """The caller's Loki scope: its key's tenant; a restricted key must name a workspace."""
    authorize_workspace(
        connection,
        caller,
        connection.query_params.get(WORKSPACE_PARAM)
        or (connection.path_params.get(WORKSPACE_PARAM)),
    )
    return _runtime(connection).query_scope(caller.tenant)
