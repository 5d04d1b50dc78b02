"""GET /query overhead over the raw Loki call, for a 5000-line answer.

Both sides run in one process, one after the other, against the same
respx-served body: "raw" is the bare httpx exchange with Loki; "api" is the
whole /query path (validation, LogQL, Loki call, parsing, shaping, JSON).
The overhead is their p50 difference.

The bar (< 25 ms) is set on answers of HTTP request lines (about 250 bytes); an
answer of AI operation lines (DESIGN.md §3, about 480 bytes each, 1.7 times the
bytes) is measured beside it and reported, so its cost is seen as it changes.

    make bench   # or: .venv/bin/pytest benchmarks/test_query_overhead.py -s
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx
import orjson
import pytest
import respx

from ailogs.api.app import create_app
from ailogs.collector import tune_for_service
from ailogs.settings import LokiSettings, Settings

LOKI = "http://loki.bench:3100"
LINES = 5000
ROUNDS = 40


def http_line(n: int, service: str) -> dict[str, object]:
    return {
        "ts": "2026-11-21T10:00:00Z",
        "level": "error" if n % 5 == 0 else "info",
        "service": service,
        "event": "http.request",
        "msg": f"request {n} handled in {n % 900} ms",
        "duration_ms": n % 900,
        "correlation_id": f"c-{n}",
        "trace_id": f"{n:032x}",
    }


def ai_operation_line(n: int, service: str) -> dict[str, object]:
    """An LLM call as DESIGN.md §3 logs it: token counts, ids, model."""
    return {
        "ts": "2026-11-21T10:00:00Z",
        "level": "error" if n % 5 == 0 else "info",
        "service": service,
        "event": "ai.operation",
        "msg": "chat completion",
        "operation": "chat",
        "provider": "openai",
        "model": "gpt-4o",
        "input_tokens": 1000 + n % 900,
        "output_tokens": n % 300,
        "cache_read_tokens": 0,
        "duration_ms": n % 900,
        "ttft_ms": n % 200,
        "status": "ok",
        "correlation_id": f"c-{n}",
        "conversation_id": f"conv-{n % 40}",
        "workspace_id": f"ws-{n % 3}",
        "trace_id": f"{n:032x}",
    }


def loki_body(lines: int = LINES, streams: int = 50, shape: Any = http_line) -> bytes:
    """A categorized query_range answer shaped like Loki 3.x's, `lines` entries."""
    base = 1795252947057639339
    result = []
    per_stream = lines // streams
    for s in range(streams):
        service = f"svc-{s % 7}"
        values = []
        for i in range(per_stream):
            n = s * per_stream + i
            line = orjson.dumps(shape(n, service)).decode()
            values.append(
                [str(base - n * 1000), line, {"structuredMetadata": {"correlation_id": f"c-{n}"}}]
            )
        result.append(
            {
                "stream": {"service_name": service, "level": "info", "job": "app", "env": "prod"},
                "values": values,
            }
        )
    return orjson.dumps(
        {
            "status": "success",
            "data": {
                "resultType": "streams",
                "encodingFlags": ["categorize-labels"],
                "result": result,
                "stats": {"summary": {"totalBytesProcessed": 123456}},
            },
        }
    )


BARS_MS: dict[Any, float] = {http_line: 25}


def p50_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


@pytest.mark.parametrize("shape", [http_line, ai_operation_line], ids=["http", "ai_operation"])
async def test_query_overhead_for_5000_entries(shape: Any) -> None:
    body = loki_body(shape=shape)
    settings = Settings(loki=LokiSettings(url=LOKI, tenant="bench"))
    app = create_app(settings, configure_logs=False)
    raw_samples: list[float] = []
    api_samples: list[float] = []
    async with app.router.lifespan_context(app):
        tune_for_service()  # as `ailogs serve` does once the app is built
        with respx.mock(base_url=LOKI, assert_all_called=False) as loki:
            loki.get("/loki/api/v1/query_range").mock(
                return_value=httpx.Response(
                    200, content=body, headers={"content-type": "application/json"}
                )
            )
            loki.route(host="bench").pass_through()
            async with (
                httpx.AsyncClient(base_url=LOKI) as raw,
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://bench"
                ) as api,
            ):
                for round_ in range(ROUNDS + 5):
                    started = time.perf_counter()
                    response = await raw.get("/loki/api/v1/query_range", params={"query": "{}"})
                    assert len(response.content) == len(body)
                    raw_time = time.perf_counter() - started

                    # A new window each round so every call misses the cache.
                    params = {"mode": "errors", "limit": 5000, "start": str(1795250000 + round_),
                              "end": str(1795253000 + round_)}  # fmt: skip
                    started = time.perf_counter()
                    answer = await api.get("/api/v1/ai_logs/query", params=params)
                    api_time = time.perf_counter() - started
                    assert answer.status_code == 200
                    assert answer.json()["stats"]["returned"] == LINES
                    if round_ >= 5:  # warm-up rounds are not counted
                        raw_samples.append(raw_time)
                        api_samples.append(api_time)
    raw_p50, api_p50 = p50_ms(raw_samples), p50_ms(api_samples)
    overhead = api_p50 - raw_p50
    bar = BARS_MS.get(shape)
    print(
        f"\n/query 5000 {shape.__name__}s ({len(body):,} bytes): raw Loki call p50 "
        f"{raw_p50:.1f} ms, /query p50 {api_p50:.1f} ms, overhead p50 {overhead:.1f} ms "
        f"(bar: {f'< {bar} ms' if bar else 'none, reported'}), ratio {api_p50 / raw_p50:.1f}x"
    )
    if bar is not None:
        assert overhead < bar
