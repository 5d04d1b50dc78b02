"""GET /api/v1/ai_logs/query as an agent sees it."""

from __future__ import annotations

import json
import time

import httpx
import pytest
import respx

from tests.conftest import loki_fixture
from tests.loki.test_client import recorded

QUERY = "/api/v1/ai_logs/query"
WINDOW = {"start": "2026-11-20T10:00:00Z", "end": "2026-11-20T11:00:00Z"}


async def test_errors_mode_returns_shaped_entries(
    api: httpx.AsyncClient, loki: respx.MockRouter
) -> None:
    route = loki.get("/loki/api/v1/query_range").mock(
        return_value=recorded("query_range_streams_categorized")
    )
    response = await api.get(
        QUERY, params={"mode": "errors", "services": "payments", "limit": 3, **WINDOW}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["mode"] == "errors"
    assert body["logql"].startswith('{service_name="payments", level=~')
    assert body["window"] == {
        "start": "2026-11-20T10:00:00.000000000Z",
        "end": "2026-11-20T11:00:00.000000000Z",
    }
    sent = route.calls.last.request.url.params
    assert sent["query"] == body["logql"]
    assert sent["limit"] == "4", "one extra line tells whether the answer is truncated"
    assert (sent["start"], sent["end"]) == ("1795168800000000000", "1795172400000000000")
    stats = body["stats"]
    assert stats["returned"] == 3
    assert stats["truncated"] is True
    assert stats["cache"] == "miss"
    entry = body["entries"][0]
    assert set(entry) == {"timestamp", "service", "level", "message", "labels", "fields"}
    assert entry["service"] == "payments"
    assert entry["timestamp"].endswith("Z")
    assert len(entry["timestamp"]) == len("2026-11-21T10:00:00.000000000Z")
    timestamps = [e["timestamp"] for e in body["entries"]]
    assert timestamps == sorted(timestamps, reverse=True), "backward means newest first"
    assert response.headers["x-request-id"]


async def test_second_identical_call_is_a_cache_hit(
    api: httpx.AsyncClient, loki: respx.MockRouter
) -> None:
    route = loki.get("/loki/api/v1/query_range").mock(
        return_value=recorded("query_range_streams_categorized")
    )
    params = {"mode": "errors", **WINDOW}
    first = (await api.get(QUERY, params=params)).json()
    second = (await api.get(QUERY, params=params)).json()
    assert route.call_count == 1
    assert (first["stats"]["cache"], second["stats"]["cache"]) == ("miss", "hit")
    assert first["entries"] == second["entries"]


async def test_stale_answer_is_served_when_loki_fails(
    api: httpx.AsyncClient, loki: respx.MockRouter, app: object
) -> None:
    from ailogs.api.runtime import Runtime

    runtime: Runtime = app.state.runtime  # type: ignore[attr-defined]
    answers = iter([recorded("query_range_streams_categorized")])

    def first_then_down(request: httpx.Request) -> httpx.Response:
        response = next(answers, None)
        if response is None:
            raise httpx.ConnectError("down")
        return response

    loki.get("/loki/api/v1/query_range").mock(side_effect=first_then_down)
    params = {"mode": "errors", "time_range": "1h"}
    fresh = (await api.get(QUERY, params={**params, "end": "1795254300"})).json()
    # Make the entry stale, then ask again while Loki is down.
    cache = runtime.cache
    for key, (payload, _) in list(cache._entries.items()):  # type: ignore[attr-defined]
        # Expired one second ago (the clock is monotonic: 0.0 could be past the grace too).
        cache._entries[key] = (payload, time.monotonic() - 1)  # type: ignore[attr-defined]
    stale = await api.get(QUERY, params={**params, "end": "1795254300"})
    assert stale.status_code == 200
    assert stale.json()["stats"]["cache"] == "stale"
    assert stale.json()["entries"] == fresh["entries"]


async def test_performance_mode_reports_quantiles_per_service(
    api: httpx.AsyncClient, loki: respx.MockRouter
) -> None:
    loki.get("/loki/api/v1/query_range").mock(
        return_value=recorded("query_range_streams_categorized")
    )
    metric = loki.get("/loki/api/v1/query").mock(return_value=recorded("query_vector_count"))
    body = (await api.get(QUERY, params={"mode": "performance", **WINDOW})).json()
    assert metric.call_count == 3
    sent = [call.request.url.params["query"] for call in metric.calls]
    assert all(q.startswith("quantile_over_time(") and "unwrap duration_ms" in q for q in sent)
    assert all("[3600s]) by (service_name)" in q for q in sent)
    services = body["latency"]["services"]
    vector = json.loads(loki_fixture("query_vector_count")["body"])["data"]["result"]
    assert set(services) == {item["metric"]["service_name"] for item in vector}
    assert set(next(iter(services.values()))) == {"p50", "p95", "p99"}
    slow = body["latency"]["slow"]
    durations = [line["duration_ms"] for line in slow]
    assert durations == sorted(durations, reverse=True)


async def test_dry_run_returns_the_plan_and_estimate_without_querying(
    api: httpx.AsyncClient, loki: respx.MockRouter
) -> None:
    stats = loki.get("/loki/api/v1/index/stats").mock(return_value=recorded("index_stats"))
    query = loki.get("/loki/api/v1/query_range")
    body = (
        await api.get(
            QUERY, params={"mode": "errors", "services": "api", "dry_run": "true", **WINDOW}
        )
    ).json()
    assert body["dry_run"] is True
    assert body["logql"].startswith('{service_name="api"')
    assert body["estimate"] == {"streams": 0, "chunks": 0, "bytes": 0, "entries": 0}
    assert stats.calls.last.request.url.params["query"] == '{service_name="api"}'
    assert query.call_count == 0


async def test_conversation_mode_reads_forward(
    api: httpx.AsyncClient, loki: respx.MockRouter
) -> None:
    route = loki.get("/loki/api/v1/query_range").mock(return_value=recorded("query_range_streams"))
    body = (
        await api.get(QUERY, params={"mode": "conversation", "conversation_id": "cv-0", **WINDOW})
    ).json()
    assert route.calls.last.request.url.params["direction"] == "forward"
    assert body["logql"] == '{service_name=~".+"} | conversation_id="cv-0"'
    timestamps = [e["timestamp"] for e in body["entries"]]
    assert timestamps == sorted(timestamps)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"mode": "nonsense"}, "mode"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "100000"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"start": "yesterday"}, "start"),
        ({"end": "2026-13-45T99:00:00Z"}, "end"),
        ({"start": "2026-11-20T11:00:00Z", "end": "2026-11-20T10:00:00Z"}, "end"),
        ({"time_range": "30d"}, "start"),
        ({"time_range": "1h", "start": "2026-11-20T10:00:00Z"}, "time_range"),
        ({"time_range": "-5m"}, "time_range"),
        ({"services": "a" * 5000}, "services"),
        ({"services": "api,,worker"}, "services"),
        ({"search": "bad\x00byte"}, "search"),
        ({"workspace_id": "line\nbreak"}, "workspace_id"),
        ({"direction": "sideways"}, "direction"),
        ({"mode": "conversation"}, "conversation_id"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    api: httpx.AsyncClient, loki: respx.MockRouter, params: dict[str, str], field: str
) -> None:
    route = loki.get("/loki/api/v1/query_range")
    response = await api.get(QUERY, params=params)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["field"] == field
    assert error["remediation"]
    assert error["request_id"] == response.headers["x-request-id"]
    assert route.call_count == 0, "nothing reaches Loki"


@pytest.mark.parametrize(
    ("fixture", "status", "code"),
    [
        ("error_parse", 400, "LOKI_BAD_QUERY"),
        ("error_max_entries", 400, "LOKI_LIMIT_EXCEEDED"),
        ("error_time_range", 400, "LOKI_LIMIT_EXCEEDED"),
        ("error_no_org_id", 502, "LOKI_UNAUTHORIZED"),
    ],
)
async def test_loki_errors_reach_the_client_with_stable_codes(
    api: httpx.AsyncClient, loki: respx.MockRouter, fixture: str, status: int, code: str
) -> None:
    loki.get("/loki/api/v1/query_range").mock(return_value=recorded(fixture))
    response = await api.get(QUERY, params={"mode": "errors", **WINDOW})
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_unreachable_loki_is_a_503_without_internals(
    api: httpx.AsyncClient, loki: respx.MockRouter
) -> None:
    loki.get("/loki/api/v1/query_range").mock(side_effect=httpx.ConnectError("refused"))
    response = await api.get(QUERY, params={"mode": "errors", **WINDOW})
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "LOKI_UNAVAILABLE"
    assert "Traceback" not in response.text
    assert "loki.test" not in error["message"]


async def test_incoming_request_id_is_echoed_and_unsafe_ones_replaced(
    api: httpx.AsyncClient,
) -> None:
    ok = await api.get(
        "/api/v1/ai_logs/query", params={"mode": "x"}, headers={"X-Request-ID": "abc-123"}
    )
    assert ok.headers["x-request-id"] == "abc-123"
    bad = await api.get(
        "/api/v1/ai_logs/query", params={"mode": "x"}, headers={"X-Request-ID": 'a b"<>'}
    )
    assert bad.headers["x-request-id"] != 'a b"<>'


async def test_unknown_route_uses_the_error_body(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/ai_logs/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"


async def test_troubleshoot_tags_pattern_hits_and_reports_them(
    api: httpx.AsyncClient, loki: respx.MockRouter
) -> None:
    route = loki.get("/loki/api/v1/query_range").mock(
        return_value=recorded("query_range_streams_categorized")
    )
    body = (
        await api.get(QUERY, params={"mode": "troubleshoot", "services": "payments", **WINDOW})
    ).json()
    logql = route.calls.last.request.url.params["query"]
    assert logql == body["logql"]
    assert logql.startswith('{service_name="payments"} | regexp "(?P<ailogs_pattern>')
    assert logql.endswith(' or ailogs_pattern!=""')
    hits = {hit["id"]: hit for hit in body["patterns"]}
    timeout = hits["connectivity.timeout"]
    assert timeout["count"] == body["stats"]["returned"]
    assert timeout["services"] == ["payments"]
    assert timeout["recommendation"]
    # Labels our own regexp stage extracts never leak into entries.
    assert all("ailogs_pattern" not in e["labels"] for e in body["entries"])
