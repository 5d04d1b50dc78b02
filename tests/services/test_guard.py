"""The cost guard: refuse above the byte budget, suggest narrower, cache the estimate."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import respx

from ailogs.domain import NS_PER_SECOND, Mode, QuerySpec, TimeWindow
from ailogs.errors import QueryTooExpensive
from ailogs.loki import LokiClient
from ailogs.services.guard import CostGuard
from ailogs.services.query import QueryScope

LOKI = "http://loki.test:3100"
DAY = TimeWindow(0, 86400 * NS_PER_SECOND)
SCOPE = QueryScope(tenant="t1")


@pytest.fixture
async def client() -> AsyncIterator[LokiClient]:
    loki = LokiClient(LOKI, retry_attempts=1)
    yield loki
    await loki.aclose()


def stats(size: int) -> httpx.Response:
    return httpx.Response(200, json={"streams": 3, "chunks": 9, "bytes": size, "entries": 99})


async def test_under_budget_is_allowed_and_the_estimate_is_cached(client: LokiClient) -> None:
    guard = CostGuard(budget_bytes=1000, free_window_ns=0)
    spec = QuerySpec(mode=Mode.ERRORS, window=DAY, services=("api",))
    with respx.mock(base_url=LOKI) as router:
        route = router.get("/loki/api/v1/index/stats").mock(return_value=stats(999))
        verdict = await guard.verdict(spec, loki=client, scope=SCOPE)
        await guard.check(spec, loki=client, scope=SCOPE)
    assert verdict["allowed"] is True
    assert verdict["estimated_bytes"] == 999
    assert route.call_count == 1
    assert route.calls.last.request.url.params["query"] == '{service_name="api"}'
    assert route.calls.last.request.headers["X-Scope-OrgID"] == "t1"


async def test_over_budget_is_refused_with_services_and_a_shorter_window(
    client: LokiClient,
) -> None:
    guard = CostGuard(budget_bytes=1000, free_window_ns=0)
    spec = QuerySpec(mode=Mode.ERRORS, window=DAY)
    volume = {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": {"service_name": "api"}, "value": [0, "9000"]}],
        },
    }
    with respx.mock(base_url=LOKI) as router:
        router.get("/loki/api/v1/index/stats").mock(return_value=stats(24_000))
        router.get("/loki/api/v1/index/volume").mock(return_value=httpx.Response(200, json=volume))
        verdict = await guard.verdict(spec, loki=client, scope=SCOPE)
        with pytest.raises(QueryTooExpensive) as raised:
            await guard.check(spec, loki=client, scope=SCOPE)
    assert verdict["allowed"] is False
    assert verdict["suggestion"]["services"] == ["api"]
    assert verdict["suggestion"]["time_range"] == "60m"
    assert "services=api" in raised.value.how_to_fix


async def test_short_windows_skip_the_round_trip(client: LokiClient) -> None:
    guard = CostGuard(budget_bytes=1)
    spec = QuerySpec(mode=Mode.ERRORS, window=TimeWindow(0, 60 * NS_PER_SECOND))
    with respx.mock(base_url=LOKI) as router:
        await guard.check(spec, loki=client, scope=SCOPE)
    assert not router.calls


async def test_all_services_can_be_disabled(client: LokiClient) -> None:
    guard = CostGuard(allow_all_services=False)
    spec = QuerySpec(mode=Mode.ERRORS, window=TimeWindow(0, 60 * NS_PER_SECOND))
    with respx.mock(base_url=LOKI, assert_all_called=False) as router:
        router.get("/loki/api/v1/index/volume").mock(
            return_value=httpx.Response(
                200, json={"status": "success", "data": {"resultType": "vector", "result": []}}
            )
        )
        with pytest.raises(QueryTooExpensive):
            await guard.check(spec, loki=client, scope=SCOPE)
