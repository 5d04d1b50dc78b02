"""GET /health and the Prometheus text endpoint."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from ailogs.api.deps import RuntimeDep
from ailogs.api.responses import JSONAnswer

router = APIRouter(tags=["health"])
metrics_router = APIRouter(tags=["health"])

_CHECK_TIMEOUT_S = 3.0


@router.get("/health", response_class=JSONAnswer)
async def health(runtime: RuntimeDep) -> Response:
    """Status of Loki, the cache and the database: 200 when Loki answers, else 503."""
    started = time.perf_counter()
    loki_up = await runtime.loki.ready()
    components: dict[str, Any] = {
        "loki": {
            "status": "up" if loki_up else "down",
            "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            "circuit": runtime.loki.breaker.state.value,
        }
    }
    checks = list(runtime.health_checks.items())
    results = await asyncio.gather(*(_bounded(check()) for _, check in checks))
    for (name, _), result in zip(checks, results, strict=True):
        components[name] = result
    degraded = any(c.get("status") not in ("up", "disabled") for c in components.values())
    status = "unavailable" if not loki_up else ("degraded" if degraded else "ok")
    body = {"status": status, "components": components}
    return JSONAnswer(body, status_code=200 if loki_up else 503)


async def _bounded(check: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = await asyncio.wait_for(check, _CHECK_TIMEOUT_S)
    except Exception as exc:
        return {"status": "down", "reason": type(exc).__name__}
    return result


@metrics_router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(runtime: RuntimeDep) -> Response:
    """Prometheus text exposition of the service's own metrics."""
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)
