"""The MCP server over streamable HTTP, mounted at /mcp behind the API's door.

Every request is admitted like any API call (`Authorization: Bearer <key>`, rate
limits); the admitted principal is left in the ASGI scope for the tools. The
MCP session manager needs a running task group: it is started on the first
request and stopped by the runtime's closers, so the app's lifespan is untouched.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import HTTPConnection
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
        self._app = self._server.streamable_http_app(
            streamable_http_path="/", stateless_http=True, json_response=True
        )
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
        # The MCP app routes on "/"; a request to /mcp arrives here with an empty path.
        if not scope.get("path", "").endswith("/"):
            scope = {**scope, "path": scope.get("path", "") + "/"}
        await self._app(scope, receive, send)
