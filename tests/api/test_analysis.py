"""GET /analyze, /correlate and /patterns over a small, known incident."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import respx

START = 1_795_168_800 * 10**9  # 2026-11-20T10:00:00Z
MINUTE = 60 * 10**9
WINDOW = {"start": "2026-11-20T10:05:00Z", "end": "2026-11-20T10:10:00Z"}
_CORRELATION = re.compile(r'\| correlation_id="([^"]*)"')


def incident_lines() -> Iterator[tuple[dict[str, str], int, dict[str, Any]]]:
    """gateway -> orders -> payments; from 10:05 payments loses its database."""
    for n in range(600):
        ts = START + n * MINUTE // 60  # one request a second for ten minutes
        broken = ts >= START + 5 * MINUTE
        rid, trace = f"req-{n}", f"{n:032x}"
        hops = [("gateway", "s1", ""), ("orders", "s2", "s1"), ("payments", "s3", "s2")]
        for depth, (service, span, parent) in enumerate(reversed(hops)):
            failing = broken and n % 2 == 0
            if service == "payments":
                msg = "connection refused: payments-db:5432" if failing else "charge ok"
            elif service == "orders":
                msg = "call to payments failed: 503" if failing else "order placed"
            else:
                msg = "upstream orders returned 502" if failing else "GET /checkout 200"
            body = {
                "level": "error" if failing else "info",
                "service": service,
                "msg": msg,
                "correlation_id": rid,
                "trace_id": trace,
                "span_id": f"{trace[:12]}{span}",
                "parent_span_id": f"{trace[:12]}{parent}" if parent else "",
                "duration_ms": 20 + 10 * (2 - depth) + (900 if failing else 0),
            }
            labels = {"service_name": service, "level": body["level"], "job": "app", "env": "test"}
            yield labels, ts + depth * 1000, body


class RecordedLoki:
    """Serves query_range over a fixed list of lines with Loki's window/limit semantics."""

    def __init__(self) -> None:
        self.lines = list(incident_lines())
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        params = request.url.params
        start, end = int(params["start"]), int(params["end"])
        limit = int(params.get("limit", 100))
        backward = params.get("direction", "backward") == "backward"
        wanted = _CORRELATION.search(params["query"])
        chosen = [
            item
            for item in self.lines
            if start <= item[1] < end and (wanted is None or item[2]["correlation_id"] == wanted[1])
        ]
        chosen.sort(key=lambda item: item[1], reverse=backward)
        streams: dict[str, dict[str, Any]] = {}
        for labels, ts, body in chosen[:limit]:
            key = orjson.dumps(labels, option=orjson.OPT_SORT_KEYS).decode()
            stream = streams.setdefault(key, {"stream": labels, "values": []})
            stream["values"].append([str(ts), orjson.dumps(body).decode(), {}])
        payload = {
            "status": "success",
            "data": {"resultType": "streams", "result": list(streams.values())},
        }
        return httpx.Response(200, content=orjson.dumps(payload))


@pytest.fixture
def recorded_loki(loki: respx.MockRouter) -> RecordedLoki:
    fake = RecordedLoki()
    loki.get("/loki/api/v1/query_range").mock(side_effect=fake)
    return fake


async def test_patterns_lists_the_library(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/v1/ai_logs/patterns")).json()
    ids = {pattern["id"] for pattern in body["patterns"]}
    assert {"connectivity.connection_refused", "ai.rate_limit", "data.parse_error"} <= ids
    assert all(pattern["recommendation"] for pattern in body["patterns"])


async def test_correlate_one_request_finds_origin_and_propagation(
    api: httpx.AsyncClient, recorded_loki: RecordedLoki
) -> None:
    response = await api.get(
        "/api/v1/ai_logs/correlate", params={"correlation_id": "req-400", **WINDOW}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["correlation_id"] == "req-400"
    edges = {(e["source"], e["target"]) for e in body["graph"]["edges"]}
    # The database never logs, but payments names it: it joins the graph as a callee.
    assert edges == {("gateway", "orders"), ("orders", "payments"), ("payments", "payments-db")}
    assert body["origin"]["service"] == "payments-db"
    assert body["origin"]["message"] == "connection refused: payments-db:5432"
    assert body["propagation"] == ["payments-db", "payments", "orders", "gateway"]
    assert body["suspects"][0]["service"] == "payments-db"
    assert body["mermaid"]
    assert any("connection" in r.lower() or "refused" in r.lower() for r in body["recommendations"])


async def test_correlate_unknown_id_is_a_404(
    api: httpx.AsyncClient, recorded_loki: RecordedLoki
) -> None:
    response = await api.get(
        "/api/v1/ai_logs/correlate", params={"correlation_id": "nope", **WINDOW}
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "CORRELATION_NOT_FOUND"


async def test_correlate_whole_window_ranks_the_failing_dependency_first(
    api: httpx.AsyncClient, recorded_loki: RecordedLoki
) -> None:
    body = (await api.get("/api/v1/ai_logs/correlate", params=WINDOW)).json()
    assert body["correlation_id"] is None
    assert body["suspects"][0]["service"] == "payments"
    assert body["stats"]["lines"] == 900


async def test_analyze_compares_with_the_preceding_window(
    api: httpx.AsyncClient, recorded_loki: RecordedLoki
) -> None:
    body = (await api.get("/api/v1/ai_logs/analyze", params=WINDOW)).json()
    assert body["baseline"] == {
        "start": "2026-11-20T10:00:00.000000000Z",
        "end": "2026-11-20T10:05:00.000000000Z",
    }
    assert (body["stats"]["lines"], body["stats"]["baseline_lines"]) == (900, 900)
    hits = {p["id"]: p for p in body["patterns"]}
    assert hits["connectivity.connection_refused"]["count"] == 150
    assert hits["connectivity.connection_refused"]["services"] == ["payments"]
    statuses = {t["template"]: t["status"] for t in body["templates"]}
    assert any(status == "new" and "refused" in template for template, status in statuses.items())
    kinds = {(a["kind"], a["service"]) for a in body["anomalies"]}
    assert any(service == "payments" for _, service in kinds)
    assert body["correlation"]["suspects"][0]["service"] == "payments"


async def test_analyze_rejects_half_a_baseline(api: httpx.AsyncClient) -> None:
    response = await api.get(
        "/api/v1/ai_logs/analyze", params={**WINDOW, "baseline_start": "2026-11-20T09:00:00Z"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "baseline_start"


async def test_analyze_fits_an_agents_token_budget(
    api: httpx.AsyncClient, recorded_loki: RecordedLoki
) -> None:
    full = (await api.get("/api/v1/ai_logs/analyze", params=WINDOW)).json()
    small = (await api.get("/api/v1/ai_logs/analyze", params={**WINDOW, "max_tokens": 300})).json()
    assert len(small["templates"]) < len(full["templates"])
    assert small["templates"][0] == full["templates"][0], "the most important item stays"
    assert small["compaction"]["max_tokens"] == 300


LEAKED_KEY = "sk-proj-0123456789abcdefghijklmnop"


async def test_no_answer_quotes_a_secret_from_the_lines(
    api: httpx.AsyncClient, loki: respx.MockRouter
) -> None:
    fake = RecordedLoki()
    for _, _, body in fake.lines:
        if body["service"] == "payments" and body["level"] == "error":
            body["msg"] = f"connection refused: payments-db:5432 (client key {LEAKED_KEY})"
    loki.get("/loki/api/v1/query_range").mock(side_effect=fake)

    analyzed = await api.get("/api/v1/ai_logs/analyze", params=WINDOW)
    whole = await api.get("/api/v1/ai_logs/correlate", params=WINDOW)
    one = await api.get("/api/v1/ai_logs/correlate", params={"correlation_id": "req-400", **WINDOW})

    for response in (analyzed, whole, one):
        assert response.status_code == 200
        assert LEAKED_KEY not in response.text
    assert "[REDACTED:keys]" in analyzed.text  # the examples are still there, masked
    hits = {p["id"]: p for p in analyzed.json()["patterns"]}
    assert hits["connectivity.connection_refused"]["count"] == 150
