"""The MCP server: ailogs' services as tools for agents (stdio and streamable HTTP)."""

from ailogs.mcp.server import build_mcp_server

__all__ = ["build_mcp_server"]
