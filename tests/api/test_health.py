"""GET /health and the Prometheus endpoint."""

from __future__ import annotations

import httpx
import respx

from tests.loki.test_client import recorded


async def test_health_is_ok_when_loki_is_ready(
    api: httpx.AsyncClient, loki: respx.MockRouter
) -> None:
    loki.get("/ready").mock(return_value=httpx.Response(200, text="ready"))
    response = await api.get("/api/v1/ai_logs/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["components"]["loki"]["status"] == "up"
    assert body["components"]["cache"]["status"] == "up"


async def test_health_is_503_when_loki_is_down(
    api: httpx.AsyncClient, loki: respx.MockRouter
) -> None:
    loki.get("/ready").mock(side_effect=httpx.ConnectError("refused"))
    response = await api.get("/api/v1/ai_logs/health")
    assert response.status_code == 503
    assert response.json()["components"]["loki"]["status"] == "down"


async def test_prometheus_metrics_count_requests_loki_calls_and_errors(
    api: httpx.AsyncClient, loki: respx.MockRouter
) -> None:
    loki.get("/loki/api/v1/query_range").mock(return_value=recorded("error_parse"))
    await api.get("/api/v1/ai_logs/query", params={"mode": "errors"})
    text = (await api.get("/metrics")).text
    route = 'route="/api/v1/ai_logs/query"'
    assert (
        f'ailogs_http_request_duration_seconds_count{{method="GET",{route},status="400"}} 1.0'
        in text
    )
    assert (
        'ailogs_loki_request_duration_seconds_count{endpoint="query_range",outcome="400"} 1.0'
        in text
    )
    assert 'ailogs_errors_total{code="LOKI_BAD_QUERY"} 1.0' in text


async def test_oversized_bodies_are_refused_with_413(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/v1/ai_logs/query", content=b"x" * (9 * 1024 * 1024))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
