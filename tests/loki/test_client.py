"""The Loki client against Loki's own recorded answers (tests/fixtures/loki)."""

from __future__ import annotations

import gc
import json
import weakref
from collections.abc import Iterator

import httpx
import pytest
import respx

from ailogs.domain import Direction
from ailogs.errors import (
    LokiBadQuery,
    LokiLimitExceeded,
    LokiRateLimited,
    LokiTimeout,
    LokiUnauthorized,
    LokiUnavailable,
)
from ailogs.loki import LokiClient
from ailogs.loki.resilience import BreakerState, CircuitBreaker
from tests.conftest import loki_fixture

LOKI = "http://loki.test:3100"
START, END = 1795252947057639339, 1795254267057639339


def recorded(name: str) -> httpx.Response:
    fixture = loki_fixture(name)
    return httpx.Response(
        fixture["status"],
        content=fixture["body"].encode(),
        headers={"content-type": fixture["content_type"]},
    )


@pytest.fixture
def loki() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=LOKI, assert_all_called=False) as router:
        yield router


def client(**kwargs: object) -> LokiClient:
    options: dict[str, object] = {"tenant": "dev", "retry_budget_s": 2.0}
    options.update(kwargs)
    return LokiClient(LOKI, **options)  # type: ignore[arg-type]


async def test_query_range_parses_categorized_streams(loki: respx.MockRouter) -> None:
    route = loki.get("/loki/api/v1/query_range").mock(
        return_value=recorded("query_range_streams_categorized")
    )
    response = await client().query_range(
        '{service_name="payments"}', start_ns=START, end_ns=END, limit=5,
        direction=Direction.BACKWARD,
    )  # fmt: skip
    request = route.calls.last.request
    assert request.headers["X-Scope-OrgID"] == "dev"
    assert request.headers["X-Loki-Response-Encoding-Flags"] == "categorize-labels"
    assert request.url.params["limit"] == "5"
    assert request.url.params["direction"] == "backward"
    body = json.loads(loki_fixture("query_range_streams_categorized")["body"])
    expected = sum(len(s["values"]) for s in body["data"]["result"])
    assert len(response.records) == expected
    first = response.records[0]
    # Stream labels stay labels; structured metadata joins the parsed body in fields.
    assert set(first.labels) == {"env", "job", "level", "service_name"}
    assert first.fields["correlation_id"].startswith("c-")
    assert first.service == "payments"
    assert first.level == "error"
    assert first.message == "upstream payments timed out after 3000 ms"
    assert first.field_float("duration_ms") is not None
    summary = body["data"]["stats"]["summary"]
    assert response.stats.bytes_processed == summary["totalBytesProcessed"]


async def test_query_range_accepts_flat_streams_from_older_lokis(loki: respx.MockRouter) -> None:
    loki.get("/loki/api/v1/query_range").mock(return_value=recorded("query_range_streams"))
    response = await client().query_range('{job="app"}', start_ns=START, end_ns=END)
    assert response.result_type == "streams"
    assert all(r.service == "payments" for r in response.records)
    assert all(r.labels["correlation_id"] == r.fields["correlation_id"] for r in response.records)


async def test_metric_answers_become_series(loki: respx.MockRouter) -> None:
    loki.get("/loki/api/v1/query_range").mock(return_value=recorded("query_range_matrix_quantile"))
    loki.get("/loki/api/v1/query").mock(return_value=recorded("query_vector_count"))
    matrix = await client().query_range("q", start_ns=START, end_ns=END, step_s=60)
    vector = await client().query("q", time_ns=END)
    raw = json.loads(loki_fixture("query_range_matrix_quantile")["body"])["data"]["result"]
    assert {s.metric["service_name"] for s in matrix.series} == {
        item["metric"]["service_name"] for item in raw
    }
    assert len(matrix.series[0].values) == len(raw[0]["values"])
    assert vector.result_type == "vector"
    assert all(len(s.values) == 1 for s in vector.series)


async def test_metadata_endpoints(loki: respx.MockRouter) -> None:
    loki.get("/loki/api/v1/labels").mock(return_value=recorded("labels"))
    loki.get("/loki/api/v1/label/service_name/values").mock(
        return_value=recorded("label_values_service_name")
    )
    loki.get("/loki/api/v1/series").mock(return_value=recorded("series"))
    loki.get("/loki/api/v1/index/stats").mock(return_value=recorded("index_stats"))
    loki.get("/loki/api/v1/index/volume").mock(return_value=recorded("index_volume"))
    loki.get("/loki/api/v1/detected_fields").mock(return_value=recorded("detected_fields"))
    loki_client = client()
    assert await loki_client.labels(start_ns=START, end_ns=END) == [
        "env", "job", "level", "service_name",
    ]  # fmt: skip
    assert "payments" in await loki_client.label_values("service_name", start_ns=START, end_ns=END)
    series = await loki_client.series(['{job="app"}'], start_ns=START, end_ns=END)
    assert {"service_name", "level", "job", "env"} <= set(series[0])
    stats = await loki_client.index_stats('{job="app"}', start_ns=START, end_ns=END)
    assert (stats.streams, stats.bytes) == (0, 0)
    volume = await loki_client.index_volume('{job="app"}', start_ns=START, end_ns=END)
    assert volume.series[0].metric == {"job": "app"}
    fields = await loki_client.detected_fields('{job="app"}', start_ns=START, end_ns=END)
    assert "correlation_id" in {f["label"] for f in fields}


async def test_label_values_refuses_a_name_that_could_change_the_path() -> None:
    with pytest.raises(ValueError, match="label name"):
        await client().label_values("../admin", start_ns=START, end_ns=END)


@pytest.mark.parametrize(
    ("fixture", "error", "text"),
    [
        ("error_parse", LokiBadQuery, "parse error at line 1"),
        ("error_empty_selector", LokiBadQuery, "empty-compatible"),
        ("error_instant_log_query", LokiBadQuery, "instant query"),
        ("error_max_entries", LokiLimitExceeded, "max entries limit"),
        ("error_time_range", LokiLimitExceeded, "time range exceeds"),
        ("error_no_org_id", LokiUnauthorized, "no org id"),
    ],
)
async def test_plain_text_errors_map_to_stable_codes(
    loki: respx.MockRouter, fixture: str, error: type[Exception], text: str
) -> None:
    route = loki.get("/loki/api/v1/query_range").mock(return_value=recorded(fixture))
    with pytest.raises(error, match=text):
        await client().query_range("{}", start_ns=START, end_ns=END)
    assert route.call_count == 1, "4xx answers are never retried"


async def test_5xx_is_retried_then_succeeds(loki: respx.MockRouter) -> None:
    route = loki.get("/loki/api/v1/index/stats").mock(
        side_effect=[httpx.Response(502, text="bad gateway"), recorded("index_stats")]
    )
    stats = await client().index_stats('{a="b"}', start_ns=START, end_ns=END)
    assert stats.entries == 0
    assert route.call_count == 2


async def test_429_honours_retry_after_and_maps_when_exhausted(loki: respx.MockRouter) -> None:
    route = loki.get("/loki/api/v1/index/stats").mock(
        return_value=httpx.Response(
            429, text="too many outstanding requests", headers={"Retry-After": "0"}
        )
    )
    with pytest.raises(LokiRateLimited):
        await client(retry_attempts=3).index_stats('{a="b"}', start_ns=START, end_ns=END)
    assert route.call_count == 3


async def test_loki_504_is_a_timeout(loki: respx.MockRouter) -> None:
    loki.get("/loki/api/v1/query").mock(return_value=httpx.Response(504, text="timeout"))
    with pytest.raises(LokiTimeout):
        await client(retry_attempts=1).query("q", time_ns=END)


async def test_read_timeouts_are_not_retried(loki: respx.MockRouter) -> None:
    route = loki.get("/loki/api/v1/query").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(LokiTimeout):
        await client().query("q", time_ns=END)
    assert route.call_count == 1


async def test_a_dead_loki_is_unavailable_and_opens_the_breaker() -> None:
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=60)
    # Nothing listens on port 9 of loopback: a real connection refusal.
    dead = LokiClient("http://127.0.0.1:9", retry_attempts=2, retry_budget_s=1, breaker=breaker)
    for _ in range(2):
        with pytest.raises(LokiUnavailable, match="cannot reach Loki"):
            await dead.query("q", time_ns=END)
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(LokiUnavailable, match="circuit open"):
        await dead.query("q", time_ns=END)
    assert await dead.ready() is False
    await dead.aclose()


def test_breaker_half_opens_after_the_cooldown_and_allows_one_probe() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=1, cooldown_s=10, clock=lambda: now[0])
    breaker.record_failure()
    assert not breaker.allow()
    now[0] = 10.0
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow(), "only one probe at a time"
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    now[0] = 20.0
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


async def test_garbage_bodies_are_unavailable_not_crashes(loki: respx.MockRouter) -> None:
    loki.get("/loki/api/v1/query").mock(return_value=httpx.Response(200, text="<html>proxy</html>"))
    with pytest.raises(LokiUnavailable, match="not JSON"):
        await client().query("q", time_ns=END)


async def test_per_call_tenant_overrides_the_default(loki: respx.MockRouter) -> None:
    route = loki.get("/loki/api/v1/labels").mock(return_value=recorded("labels"))
    await client().labels(start_ns=START, end_ns=END, tenant="acme")
    assert route.calls.last.request.headers["X-Scope-OrgID"] == "acme"


async def test_a_page_body_is_freed_with_the_page_not_at_the_next_collection(
    loki: respx.MockRouter,
) -> None:
    loki.get("/loki/api/v1/query_range").mock(
        return_value=recorded("query_range_streams_categorized")
    )
    received: list[weakref.ref[httpx.Response]] = []

    async def keep(response: httpx.Response) -> None:
        received.append(weakref.ref(response))

    loki_client = client()
    loki_client._http.event_hooks["response"].append(keep)
    gc.disable()
    try:
        result = await loki_client.query_range('{job=~".+"}', start_ns=1, end_ns=2)
        assert result.records
        assert len(received) == 1
        # Freed by reference counting alone: no cycle keeps megabytes of body alive.
        assert received[0]() is None
    finally:
        gc.enable()
        await loki_client.aclose()
