"""Orchestration: the use cases the API, the CLI and MCP share."""
