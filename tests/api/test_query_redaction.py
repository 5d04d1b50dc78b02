"""Secrets never leave /query: not in entries, not in latency examples, not in the cache."""

from __future__ import annotations

import httpx
import orjson
import pytest
import respx
from fastapi import FastAPI

from tests.loki.test_client import recorded

QUERY = "/api/v1/ai_logs/query"
WINDOW = {"start": "2026-11-20T10:00:00Z", "end": "2026-11-20T11:00:00Z"}
SECRET = "sk-proj-abcdefghijklmnopqrstuvwxyz012345"
TOKEN = "Bearer eyQ0aGlzLmlzLmEudG9rZW4"


def streams(*lines: str) -> httpx.Response:
    values = [[str(1795255200000000000 + i), line] for i, line in enumerate(lines)]
    payload = {
        "status": "success",
        "data": {
            "resultType": "streams",
            "result": [{"stream": {"service_name": "gateway", "level": "error"}, "values": values}],
        },
    }
    return httpx.Response(200, content=orjson.dumps(payload))


LINES = (
    orjson.dumps({"msg": f"upstream refused key {SECRET}", "duration_ms": 900}).decode(),
    orjson.dumps({"msg": "retry", "headers": f"Authorization: {TOKEN}", "duration_ms": 5}).decode(),
    'plain text line with api_key=hunter2hunter2 and "quotes" and \\ backslashes',
    orjson.dumps({"msg": "clean line", "duration_ms": 1}).decode(),
)


async def test_entries_and_slow_lines_are_masked(
    api: httpx.AsyncClient, loki: respx.MockRouter
) -> None:
    loki.get("/loki/api/v1/query_range").mock(return_value=streams(*LINES))
    loki.get("/loki/api/v1/query").mock(return_value=recorded("query_vector_count"))

    response = await api.get(QUERY, params={"mode": "performance", **WINDOW})

    assert response.status_code == 200
    assert SECRET not in response.text
    assert "eyQ0aGlzLmlzLmEudG9rZW4" not in response.text
    assert "hunter2hunter2" not in response.text
    body = response.json()
    assert body["latency"]["slow"][0]["message"] == "upstream refused key [REDACTED:keys]"
    messages = {entry["message"] for entry in body["entries"]}
    assert "clean line" in messages
    assert any("[REDACTED:passwords]" in m and '"quotes"' in m for m in messages)


async def test_the_cache_never_holds_a_secret(
    app: FastAPI, api: httpx.AsyncClient, loki: respx.MockRouter
) -> None:
    loki.get("/loki/api/v1/query_range").mock(return_value=streams(*LINES))

    first = await api.get(QUERY, params={"mode": "errors", **WINDOW})
    second = await api.get(QUERY, params={"mode": "errors", **WINDOW})

    assert first.json()["stats"]["cache"] == "miss"
    assert second.json()["stats"]["cache"] == "hit"
    assert second.json()["entries"] == first.json()["entries"]
    stored = [payload for payload, _ in app.state.runtime.cache._entries.values()]
    assert stored
    for payload in stored:
        assert b"clean line" in payload  # small answers are stored uncompressed
        assert SECRET.encode() not in payload
        assert b"hunter2hunter2" not in payload


META_TOKEN = "Bearer mdTOKENmdTOKENmdTOKEN"
PASSWORD = "hunter2-in-a-field"


def streams_with_metadata() -> httpx.Response:
    """A clean line whose secrets ride in structured metadata, and a JSON line whose
    password is a body field (masked in the line, so it must be in `fields` too)."""
    values = [
        [
            "1795255200000000000",
            "user signed in",
            {"structuredMetadata": {"authorization": META_TOKEN, "password": "meta-pw-1234"}},
        ],
        ["1795255200000000001", orjson.dumps({"msg": "login", "password": PASSWORD}).decode()],
        [
            "1795255200000000002",
            orjson.dumps({"msg": "nested", "auth": {"api_key": "nested-key-5678"}}).decode(),
            {"structuredMetadata": {"trace_id": "abc"}},
        ],
    ]
    payload = {
        "status": "success",
        "data": {
            "resultType": "streams",
            "encodingFlags": ["categorize-labels"],
            "result": [{"stream": {"service_name": "gateway"}, "values": values}],
        },
    }
    return httpx.Response(200, content=orjson.dumps(payload))


LEAKS = ("mdTOKENmdTOKEN", "meta-pw-1234", PASSWORD, "nested-key-5678")


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", QUERY, {"mode": "audit", **WINDOW}),
        (
            "GET",
            "/api/v1/ai_logs/context",
            {"stream": '{service_name="gateway"}', "timestamp": "1795255200000000001"},
        ),
        ("POST", "/api/v1/ai_logs/export", {"mode": "audit", **WINDOW}),
    ],
)
async def test_secrets_in_fields_and_structured_metadata_are_masked(
    api: httpx.AsyncClient, loki: respx.MockRouter, method: str, path: str, params: dict[str, str]
) -> None:
    loki.get("/loki/api/v1/query_range").mock(return_value=streams_with_metadata())
    loki.get("/loki/api/v1/series").mock(
        return_value=httpx.Response(
            200, json={"status": "success", "data": [{"service_name": "gateway"}]}
        )
    )

    if method == "GET":
        response = await api.get(path, params=params)
    else:
        response = await api.post(path, json=params)

    assert response.status_code == 200, response.text
    assert "user signed in" in response.text
    for secret in LEAKS:
        assert secret not in response.text
    assert "[REDACTED:tokens]" in response.text
    assert "[REDACTED:passwords]" in response.text
