"""Cache and rate-limit bars, end to end through the API (httpx ASGI transport).

    .venv/bin/python benchmarks/bench_door.py                 # all three, 30 s load
    .venv/bin/python benchmarks/bench_door.py --duration 5    # a shorter load run

1. A cache hit for a 1000-entry answer: p50 < 5 ms (memory and Redis caches).
2. 50 concurrent identical requests against a slow Loki: exactly 1 upstream call.
3. 200 concurrent clients for `--duration` s over 10 keys: no 5xx, and each key's
   admitted count within 1% of burst + rate * elapsed.

Loki is served by respx; Redis is the real one (AILOGS_TEST_REDIS_URL or
127.0.0.1:6379) under a throwaway prefix that is deleted afterwards.
`make bench` runs the same functions with short settings (test_door_bench.py).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import respx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.redis_support import delete_prefix, fast_failing_client

from ailogs.api.app import create_app
from ailogs.api.runtime import Runtime
from ailogs.ratelimit import RateDecision
from ailogs.services.access import Principal
from ailogs.services.api_keys import ApiKeyRecord, issue_key, split_token
from ailogs.settings import (
    AgentSettings,
    DatabaseSettings,
    LokiSettings,
    RateLimitSettings,
    RedisSettings,
    Settings,
)
from ailogs.store.access import SqlApiKeyRepository
from ailogs.store.database import Database
from ailogs.store.models import Base

LOKI = "http://loki.bench:3100"
REDIS_URL = os.environ.get("AILOGS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
QUERY = "/api/v1/ai_logs/query"
WINDOW = {"mode": "errors", "start": "2026-11-20T10:00:00Z", "end": "2026-11-20T11:00:00Z"}


def loki_body(lines: int) -> bytes:
    """A query_range answer with `lines` JSON log lines over 10 streams."""
    base = 1795172000000000000
    streams = []
    for s in range(10):
        values = []
        for i in range(lines // 10):
            n = s * (lines // 10) + i
            line = orjson.dumps(
                {
                    "level": "error",
                    "service": f"svc-{s}",
                    "msg": f"upstream timed out {n}",
                    "duration_ms": n % 900,
                    "correlation_id": f"c-{n}",
                }
            ).decode()
            values.append(
                [str(base - n * 1000), line, {"structuredMetadata": {"trace_id": f"{n:x}"}}]
            )
        streams.append({"stream": {"service_name": f"svc-{s}", "level": "error"}, "values": values})
    stats = {"summary": {"totalBytesProcessed": 1000, "totalLinesProcessed": lines}}
    return orjson.dumps(
        {
            "status": "success",
            "data": {"resultType": "streams", "result": streams, "stats": stats},
            "encodingFlags": ["categorize-labels"],
        }
    )


@dataclass
class Bench:
    """A running app and a client for it."""

    client: httpx.AsyncClient
    runtime: Runtime
    database_url: str

    async def keys(self, count: int) -> list[str]:
        """Mint `count` keys that read every workspace."""
        database = Database(self.database_url)
        tokens = []
        for _ in range(count):
            issued = issue_key()
            record = ApiKeyRecord(issued.key_id, "bench", issued.key_hash, "bench", (), 1)
            await SqlApiKeyRepository(database).add(record)
            tokens.append(issued.token)
        await database.dispose()
        if self.runtime.access is not None:
            self.runtime.access.forget_cached_keys()
        return tokens


@asynccontextmanager
async def running_app(
    *, redis: bool, lines: int, delay_s: float = 0.0, rate: float = 1e6, burst: int = 1_000_000
) -> AsyncIterator[tuple[Bench, respx.MockRouter]]:
    """The app with a respx Loki, a fresh SQLite key table, and Redis or memory."""
    prefix = f"ailogs-bench-{uuid.uuid4().hex}:"
    body = loki_body(lines + 1)

    async def answer(request: httpx.Request) -> httpx.Response:
        if delay_s:
            await asyncio.sleep(delay_s)
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        database = Database(url)
        async with database.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        await database.dispose()
        settings = Settings(
            loki=LokiSettings(url=LOKI, tenant="bench"),
            database=DatabaseSettings(url=url, migrate_on_start=False),
            redis=RedisSettings(url=REDIS_URL if redis else "", key_prefix=prefix),
            rate_limit=RateLimitSettings(per_second=rate, burst=burst),
            agent=AgentSettings(redact="none"),
        )
        app = create_app(settings, configure_logs=False)
        with respx.mock(base_url=LOKI, assert_all_called=False) as loki:
            loki.get("/loki/api/v1/query_range").mock(side_effect=answer)
            loki.get("/loki/api/v1/index/stats").mock(
                return_value=httpx.Response(
                    200, json={"streams": 10, "chunks": 1, "bytes": 1000, "entries": lines}
                )
            )
            loki.route(host="bench").pass_through()
            try:
                async with app.router.lifespan_context(app):
                    transport = httpx.ASGITransport(app=app)
                    limits = httpx.Limits(max_connections=None)
                    async with httpx.AsyncClient(
                        transport=transport, base_url="http://bench", limits=limits
                    ) as client:
                        yield Bench(client, app.state.runtime, url), loki
            finally:
                if redis:
                    cleaner = fast_failing_client(REDIS_URL)
                    await delete_prefix(cleaner, prefix)
                    await cleaner.aclose()


async def cache_hit_latency(
    *, redis: bool, entries: int = 1000, rounds: int = 300
) -> dict[str, Any]:
    """p50/p95 of cache hits for an `entries`-line answer, through the whole API."""
    params = {**WINDOW, "limit": str(entries)}
    async with running_app(redis=redis, lines=entries) as (bench, loki):
        first = await bench.client.get(QUERY, params=params)
        assert first.status_code == 200, first.text
        assert len(first.json()["entries"]) == entries
        timings = []
        for _ in range(rounds):
            started = time.perf_counter()
            response = await bench.client.get(QUERY, params=params)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.json()["stats"]["cache"] == "hit"
        query_calls = loki.routes[0].call_count
        stored = bench.runtime.cache.stats.bytes_stored
    timings.sort()
    return {
        "backend": "redis" if redis else "memory",
        "entries": entries,
        "answer_bytes": len(first.content),
        "stored_bytes": stored,
        "p50_ms": round(statistics.median(timings), 3),
        "p95_ms": round(timings[int(len(timings) * 0.95)], 3),
        "loki_query_calls": query_calls,
    }


async def single_flight(*, concurrent: int = 50, delay_s: float = 0.3) -> dict[str, Any]:
    """Upstream calls made by `concurrent` identical requests against a slow Loki."""
    async with running_app(redis=True, lines=100, delay_s=delay_s) as (bench, loki):
        responses = await asyncio.gather(
            *(bench.client.get(QUERY, params=WINDOW) for _ in range(concurrent))
        )
        return {
            "requests": concurrent,
            "statuses": dict(Counter(r.status_code for r in responses)),
            "loki_query_calls": loki.routes[0].call_count,
        }


def rate_key(token: str) -> str:
    """The rate-limit bucket of a key's requests (see `Principal.rate_key`)."""
    parts = split_token(token)
    assert parts is not None
    return Principal(parts[0], None).rate_key


class DecisionLog:
    """When each key's rate decisions were made: the window GCRA's count is exact over."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.allowed: Counter[str] = Counter()

    def watch(self, runtime: Runtime) -> None:
        """Time every decision of the app's limiter (its behaviour is unchanged)."""
        assert runtime.access is not None
        assert runtime.access.limiter is not None
        limiter = runtime.access.limiter
        acquire = limiter.acquire

        async def timed(key: str) -> RateDecision:
            decision = await acquire(key)
            # Taken as the decision returns: the script ran in Redis just before.
            now = time.perf_counter()
            self.first.setdefault(key, now)
            self.last[key] = now
            self.allowed[key] += decision.allowed
            return decision

        setattr(limiter, "acquire", timed)  # noqa: B010 - an instance attribute, not a method

    def window(self, key: str) -> float:
        """Seconds from `key`'s first decision to its last."""
        return self.last[key] - self.first[key]


async def rate_limit_load(
    *,
    clients: int = 200,
    duration_s: float = 30.0,
    keys: int = 10,
    rate: float = 20.0,
    burst: int = 50,
    redis: bool = True,
) -> dict[str, Any]:
    """`clients` loops for `duration_s` over `keys` keys; admitted count per key vs GCRA.

    GCRA admits `burst + rate * t` requests over the `t` seconds from a key's
    first decision to its last, when the key is asked more often than `rate`
    throughout (every key here has `clients / keys` clients looping on it).
    Each key's window is timed where the decisions are made, so requests still
    in flight at the deadline and the spread of the first answers do not skew it.
    """
    async with running_app(redis=redis, lines=50, rate=rate, burst=burst) as (bench, _):
        tokens = await bench.keys(keys)
        for token in tokens:  # warm the answer cache and each key's lookup
            await bench.client.get(
                QUERY, params=WINDOW, headers={"Authorization": f"Bearer {token}"}
            )
        await asyncio.sleep(burst / rate + 0.5)  # let the warm-up request's cell drain
        decisions = DecisionLog()
        decisions.watch(bench.runtime)
        statuses: Counter[int] = Counter()
        admitted: Counter[int] = Counter()
        deadline = 0.0

        async def client_loop(index: int) -> None:
            key_index = index % keys
            headers = {"Authorization": f"Bearer {tokens[key_index]}"}
            while time.perf_counter() < deadline:
                response = await bench.client.get(QUERY, params=WINDOW, headers=headers)
                statuses[response.status_code] += 1
                if response.status_code == 200:
                    admitted[key_index] += 1

        started = time.perf_counter()
        deadline = started + duration_s
        await asyncio.gather(*(client_loop(i) for i in range(clients)))
        elapsed = time.perf_counter() - started
        key_ids = [rate_key(token) for token in tokens]
    windows = [decisions.window(key) for key in key_ids]
    expected = [burst + rate * window for window in windows]
    errors = [abs(admitted[k] - expected[k]) / expected[k] for k in range(keys)]
    return {
        "backend": "redis" if redis else "local",
        "clients": clients,
        "keys": keys,
        "rate_per_key": rate,
        "burst": burst,
        "elapsed_s": round(elapsed, 2),
        "decision_window_s": [round(window, 2) for window in windows],
        "requests": sum(statuses.values()),
        "requests_per_s": round(sum(statuses.values()) / elapsed),
        "statuses": dict(statuses),
        "server_errors": sum(n for status, n in statuses.items() if status >= 500),
        "expected_per_key": [round(e, 1) for e in expected],
        "admitted_per_key": [admitted[k] for k in range(keys)],
        "allowed_decisions": [decisions.allowed[key] for key in key_ids],
        "max_error_pct": round(100 * max(errors), 3),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--skip-load", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # access logs would measure the terminal, not the API
    print(await cache_hit_latency(redis=False))
    print(await cache_hit_latency(redis=True))
    print(await single_flight())
    if not args.skip_load:
        print(await rate_limit_load(clients=args.clients, duration_s=args.duration))


if __name__ == "__main__":
    asyncio.run(main())
