"""The MCP server at /mcp: the tools an agent lists and calls, behind the API's door."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import respx
from fastapi import FastAPI

from tests.loki.test_client import recorded

HEADERS = {
    "accept": "application/json, text/event-stream",
    "content-type": "application/json",
    "mcp-protocol-version": "2025-06-18",
}
TOOLS = {
    "query_logs",
    "analyze_logs",
    "correlate_request",
    "get_context",
    "conversation_summary",
    "workspace_summary",
    "list_patterns",
}


@pytest.fixture
async def mcp_client(app: FastAPI, loki: respx.MockRouter) -> AsyncIterator[httpx.AsyncClient]:
    loki.route(host="127.0.0.1").pass_through()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as client:
        yield client


async def rpc(client: httpx.AsyncClient, method: str, params: dict[str, Any]) -> Any:
    response = await client.post(
        "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
        headers=HEADERS,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()["result"]


async def call(client: httpx.AsyncClient, tool: str, arguments: dict[str, Any]) -> Any:
    result = await rpc(client, "tools/call", {"name": tool, "arguments": arguments})
    if result.get("structuredContent") is not None:
        return result["structuredContent"]
    return orjson.loads(result["content"][0]["text"])


async def test_the_seven_tools_are_listed_with_descriptions_for_a_model(
    mcp_client: httpx.AsyncClient,
) -> None:
    tools = (await rpc(mcp_client, "tools/list", {}))["tools"]
    assert {tool["name"] for tool in tools} == TOOLS
    for tool in tools:
        assert len(tool["description"]) > 80, tool["name"]
    query = next(tool for tool in tools if tool["name"] == "query_logs")
    assert {"mode", "time_range", "services", "max_tokens", "cursor"} <= set(
        query["inputSchema"]["properties"]
    )


async def test_query_logs_answers_like_the_api_and_is_compacted(
    mcp_client: httpx.AsyncClient, loki: respx.MockRouter
) -> None:
    loki.get("/loki/api/v1/query_range").mock(
        return_value=recorded("query_range_streams_categorized")
    )

    answer = await call(
        mcp_client, "query_logs", {"mode": "errors", "services": "payments", "limit": 3}
    )

    assert answer["mode"] == "errors"
    assert answer["logql"].startswith('{service_name="payments"')
    assert answer["compaction"]["max_tokens"] == 4000


async def test_tool_errors_are_answers_with_stable_codes(mcp_client: httpx.AsyncClient) -> None:
    answer = await call(mcp_client, "query_logs", {"mode": "nonsense"})
    assert answer["error"]["code"] == "VALIDATION_ERROR"
    answer = await call(mcp_client, "get_context", {"stream": '{a=~".+"}', "timestamp": "1"})
    assert answer["error"]["code"] == "VALIDATION_ERROR"


async def test_list_patterns_returns_the_library(mcp_client: httpx.AsyncClient) -> None:
    answer = await call(mcp_client, "list_patterns", {})
    assert "ai.rate_limit" in {pattern["id"] for pattern in answer["patterns"]}


async def test_a_foreign_host_header_is_refused(mcp_client: httpx.AsyncClient) -> None:
    response = await mcp_client.post(
        "/mcp",
        json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
        headers={**HEADERS, "host": "evil.example"},
    )
    assert response.status_code == 421


def test_building_the_app_leaves_the_hosts_logging_alone() -> None:
    # MCPServer installs a Rich handler at INFO on a root logger without handlers;
    # an app built with configure_logs=False must not reconfigure its host.
    import logging

    from ailogs.api.app import create_app
    from ailogs.settings import Settings

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers[:] = []
    try:
        create_app(Settings(), configure_logs=False)
        assert root.handlers == []
        assert root.level == level
    finally:
        root.handlers[:] = handlers
