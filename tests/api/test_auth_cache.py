"""The cache through the API: single-flight, stale-if-error, and a Redis that dies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import respx

from ailogs.settings import AgentSettings, CacheSettings, RedisSettings
from tests.api.test_auth import QUERY, WINDOW, Door, make_database, open_door, settings_for
from tests.loki.test_client import recorded
from tests.redis_support import (
    REDIS_URL,
    RedisProcess,
    delete_prefix,
    fast_failing_client,
    key_prefix,
    private_redis,
    redis_client,
)

__all__ = ["key_prefix", "private_redis", "redis_client"]


@pytest.fixture
def slow_loki() -> respx.MockRouter:
    """A Loki that takes 200 ms per answer, then fails once told to."""
    state = {"down": False}

    async def answer(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.2)
        if state["down"]:
            raise httpx.ConnectError("loki is down")
        return recorded("query_range_streams_categorized")

    def estimate(request: httpx.Request) -> httpx.Response:
        if state["down"]:
            raise httpx.ConnectError("loki is down")
        return httpx.Response(200, json={"streams": 1, "chunks": 1, "bytes": 4096, "entries": 9})

    with respx.mock(base_url="http://loki.test:3100", assert_all_called=False) as router:
        router.get("/loki/api/v1/query_range").mock(side_effect=answer)
        router.get("/ready").mock(return_value=httpx.Response(200, text="ready"))
        router.get("/loki/api/v1/index/stats").mock(side_effect=estimate)
        router.route(host="testserver").pass_through()
        router.state = state  # type: ignore[attr-defined]
        yield router


@pytest.fixture
async def redis_door(
    tmp_path: Path, slow_loki: respx.MockRouter, redis_client: object, key_prefix: str
) -> AsyncIterator[Door]:
    url = await make_database(tmp_path / "redis.db")
    settings = settings_for(url, redis=RedisSettings(url=REDIS_URL, key_prefix=key_prefix))
    async for door in open_door(settings, url):
        yield door


async def test_fifty_identical_concurrent_misses_make_one_loki_call(
    redis_door: Door, slow_loki: respx.MockRouter
) -> None:
    responses = await asyncio.gather(
        *(redis_door.client.get(QUERY, params=WINDOW) for _ in range(50))
    )

    assert {r.status_code for r in responses} == {200}
    assert slow_loki.routes[0].call_count == 1
    # Requests that reach the app after the one flight landed are (correct) hits.
    statuses = [r.json()["stats"]["cache"] for r in responses]
    assert set(statuses) <= {"miss", "hit"}
    assert "miss" in statuses
    assert len({r.text.replace('"miss"', "").replace('"hit"', "") for r in responses}) == 1
    again = await redis_door.client.get(QUERY, params=WINDOW)
    assert again.json()["stats"]["cache"] == "hit"
    assert redis_door.runtime.cache.backend == "redis"


async def test_a_stale_redis_entry_answers_when_loki_fails(
    tmp_path: Path, slow_loki: respx.MockRouter, redis_client: object, key_prefix: str
) -> None:
    url = await make_database(tmp_path / "stale.db")
    settings = settings_for(
        url,
        redis=RedisSettings(url=REDIS_URL, key_prefix=key_prefix),
        cache=CacheSettings(immutable_ttl_s=0.05, live_ttl_s=0.05),
        agent=AgentSettings(estimate_ttl_s=0),  # the cost estimate fails with Loki too
    )
    async for door in open_door(settings, url):
        fresh = await door.client.get(QUERY, params=WINDOW)
        await asyncio.sleep(0.1)
        slow_loki.state["down"] = True  # type: ignore[attr-defined]
        stale = await door.client.get(QUERY, params=WINDOW)

        assert stale.status_code == 200, stale.text
        assert stale.json()["stats"]["cache"] == "stale"
        assert stale.json()["entries"] == fresh.json()["entries"]
        health = (await door.client.get("/api/v1/ai_logs/health")).json()
        assert health["components"]["cache"]["stale_served"] == 1


async def test_requests_succeed_while_redis_is_down_and_use_it_again_after(
    tmp_path: Path, slow_loki: respx.MockRouter, private_redis: RedisProcess
) -> None:
    url = await make_database(tmp_path / "down.db")
    settings = settings_for(url, redis=RedisSettings(url=private_redis.url, key_prefix="t:"))
    async for door in open_door(settings, url):
        assert (await door.client.get(QUERY, params=WINDOW)).status_code == 200

        private_redis.stop()
        during = await door.client.get(QUERY, params=WINDOW)
        health = (await door.client.get("/api/v1/ai_logs/health")).json()
        assert during.status_code == 200, during.text
        assert during.json()["stats"]["cache"] == "miss"
        assert health["status"] == "degraded"
        assert health["components"]["cache"]["status"] == "down"
        assert health["components"]["rate_limit"]["status"] == "degraded"

        private_redis.start()
        await asyncio.sleep(1.1)  # the cache and the limiter retry Redis after 1 s
        first = await door.client.get(QUERY, params=WINDOW)
        second = await door.client.get(QUERY, params=WINDOW)
        health = (await door.client.get("/api/v1/ai_logs/health")).json()
        assert (first.json()["stats"]["cache"], second.json()["stats"]["cache"]) == ("miss", "hit")
        assert health["status"] == "ok"
        client = fast_failing_client(private_redis.url)
        try:
            assert await client.dbsize() >= 1
            await delete_prefix(client, "t:")
        finally:
            await client.aclose()
