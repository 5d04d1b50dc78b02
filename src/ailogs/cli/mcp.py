"""`ailogs mcp`: the MCP server over stdio, for agents that launch ailogs themselves."""

from __future__ import annotations

import anyio

from ailogs.cli.base import app, settings_or_exit


@app.command()
def mcp() -> None:
    """Serve ailogs' tools (query_logs, analyze_logs, ...) over MCP on stdin/stdout."""
    from ailogs.api.app import build_runtime
    from ailogs.api.metrics import ServiceMetrics
    from ailogs.mcp import build_mcp_server

    settings = settings_or_exit()

    async def serve() -> None:
        runtime = build_runtime(settings, ServiceMetrics())
        server = build_mcp_server(lambda: runtime)
        try:
            await server.run_stdio_async()
        finally:
            for close in reversed(runtime.closers):
                await close()

    anyio.run(serve)
