"""Access control as FastAPI dependencies, for HTTP routes and WebSocket handshakes.

`require_caller` runs once per request (FastAPI caches it): it authenticates the
`Authorization: Bearer` key (on a WebSocket handshake, also the `bearer.<key>`
subprotocol), checks a `workspace_id` named in the query or path,
applies the caller's rate limit, and returns the `Principal`. `get_caller_scope`
adds the rule that a workspace-restricted key must name a workspace before any
log is read, and hands the key's Loki tenant to the query path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from ailogs.api.runtime import Runtime
from ailogs.services.access import Admission, Principal, RequestFacts
from ailogs.services.query import QueryScope

WORKSPACE_PARAM = "workspace_id"
# WebSocket key transport for browsers: offer ["bearer", "bearer.<key>"].
BEARER_SUBPROTOCOL = "bearer"
BEARER_KEY_PREFIX = "bearer."


def _runtime(connection: HTTPConnection) -> Runtime:
    runtime: Runtime = connection.app.state.runtime
    return runtime


def client_address(connection: HTTPConnection) -> str:
    """The peer address (uvicorn runs without proxy headers, so it is the socket's)."""
    return connection.client.host if connection.client else "unknown"


@dataclass(frozen=True, slots=True)
class HandshakeCredentials:
    """The key a WebSocket handshake carries, and the subprotocol to accept with."""

    authorization: str | None
    subprotocol: str | None


def _subprotocol_key(offered: Sequence[str]) -> str | None:
    for protocol in offered:
        if protocol[: len(BEARER_KEY_PREFIX)].lower() == BEARER_KEY_PREFIX:
            return protocol[len(BEARER_KEY_PREFIX) :]
    return None


def handshake_credentials(connection: HTTPConnection) -> HandshakeCredentials:
    """The key of a WebSocket handshake: the Authorization header, else a subprotocol.

    Browsers cannot set headers on a WebSocket, so the key may travel as the
    subprotocol `bearer.<key>` next to a plain `bearer`
    (`new WebSocket(url, ["bearer", "bearer." + key])`); the server then accepts
    with `bearer`, never echoing the key. A query-string token is not accepted:
    URLs end up in access logs and proxies, headers do not.
    """
    offered: list[str] = list(connection.scope.get("subprotocols") or ())
    accept = BEARER_SUBPROTOCOL if BEARER_SUBPROTOCOL in offered else None
    header = connection.headers.get("authorization")
    if header:
        return HandshakeCredentials(header, accept)
    key = _subprotocol_key(offered)
    return HandshakeCredentials(f"Bearer {key}" if key else None, accept)


def request_facts(connection: HTTPConnection, *, workspace_required: bool = True) -> RequestFacts:
    """What the door knows about a request or handshake, before the route runs."""
    workspace = connection.query_params.get(WORKSPACE_PARAM) or connection.path_params.get(
        WORKSPACE_PARAM
    )
    state_id = connection.scope.get("state", {}).get("request_id")
    authorization = (
        handshake_credentials(connection).authorization
        if connection.scope["type"] == "websocket"
        else connection.headers.get("authorization")
    )
    return RequestFacts(
        path=connection.url.path,
        client=client_address(connection),
        authorization=authorization,
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
