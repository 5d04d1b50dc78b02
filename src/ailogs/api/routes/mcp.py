"""The MCP server over streamable HTTP, served at /mcp behind the API's door.

Every request is admitted like any API call (`Authorization: Bearer <key>`, rate
limits); the admitted principal is left in the ASGI scope for the tools. The
MCP session manager needs a running task group: it is started on the first
request and stopped by the runtime's closers, so the app's lifespan is untouched.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import HTTPConnection
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ailogs.api.auth import admit_connection
from ailogs.api.errors import render_error
from ailogs.api.runtime import Runtime
from ailogs.errors import AilogsError, NotFound
from ailogs.mcp import build_mcp_server

MCP_PATH = "/mcp"


class MCPMount:
    """ASGI app: admit the caller, then hand the request to the MCP server."""

    def __init__(self) -> None:
        self._runtime: Runtime | None = None
        self._server = build_mcp_server(self._current_runtime)
        self._app: Any = None
        self._lock = asyncio.Lock()
        self._running: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def _current_runtime(self) -> Runtime:
        if self._runtime is None:
            raise RuntimeError("the MCP mount has not served a request yet")
        return self._runtime

    async def _start(self, runtime: Runtime) -> None:
        async with self._lock:
            if self._running is not None:
                return
            self._app = self._server.streamable_http_app(
                streamable_http_path="/",
                stateless_http=True,
                json_response=True,
                transport_security=_host_check(runtime),
            )
            started = asyncio.Event()

            async def hold() -> None:
                async with self._server.session_manager.run():
                    started.set()
                    await self._stop.wait()

            self._running = asyncio.create_task(hold())
            await started.wait()
            runtime.closers.append(self._close)

    async def _close(self) -> None:
        self._stop.set()
        if self._running is not None:
            await self._running

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Admit, then serve the MCP request."""
        if scope["type"] != "http":
            raise_error: AilogsError = NotFound("MCP is served over HTTP only")
            await render_error(raise_error)(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        runtime: Runtime = connection.app.state.runtime
        self._runtime = runtime
        try:
            admission = await admit_connection(connection)
        except AilogsError as exc:
            await render_error(exc)(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        state["principal"] = admission.principal
        await self._start(runtime)
        # The MCP app serves one endpoint at its own root.
        await self._app({**scope, "path": "/", "raw_path": b"/", "root_path": ""}, receive, send)


def _host_check(runtime: Runtime) -> TransportSecuritySettings:
    """DNS-rebinding protection: only the configured Host headers reach the tools."""
    configured = runtime.settings.agent.mcp_allowed_hosts
    hosts = [h.strip() for h in configured.split(",") if h.strip()]
    if not hosts:
        own = runtime.settings.host
        hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*", f"{own}:*", own]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts)


def install_mcp(app: Starlette) -> None:
    """Serve MCP at exactly /mcp (no redirect to /mcp/, which some clients do not follow)."""
    app.router.routes.append(
        Route(MCP_PATH, MCPMount(), methods=["GET", "POST", "DELETE"], include_in_schema=False)
    )
