"""The app factory: one FastAPI app per Settings, adapters built once in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from ailogs import __version__
from ailogs.analysis.patterns import default_pattern_library
from ailogs.api.agent_wiring import install_agent
from ailogs.api.audit_trail import audit_call
from ailogs.api.errors import install_error_handlers
from ailogs.api.metrics import ServiceMetrics
from ailogs.api.middleware import RequestContextMiddleware
from ailogs.api.protection import build_cache, install_protection
from ailogs.api.responses import JSONAnswer
from ailogs.api.routes import (
    admin,
    analysis,
    conversations,
    health,
    operations,
    query,
    stream,
    workspace,
)
from ailogs.api.routes import context as context_route
from ailogs.api.routes import export as export_route
from ailogs.api.routes.mcp import install_mcp
from ailogs.api.runtime import Runtime
from ailogs.api.store_wiring import install_store, start_store
from ailogs.jsonlog import configure_logging
from ailogs.loki.client import LokiClient
from ailogs.loki.resilience import CircuitBreaker
from ailogs.settings import Settings

API_PREFIX = "/api/v1/ai_logs"


def build_runtime(
    settings: Settings,
    metrics: ServiceMetrics,
    *,
    loki_transport: httpx.AsyncBaseTransport | None = None,
) -> Runtime:
    """Build every adapter from settings (one Loki pool, one cache)."""
    loki_settings = settings.loki
    loki = LokiClient(
        loki_settings.url,
        tenant=loki_settings.tenant,
        timeout_s=loki_settings.timeout_s,
        connect_timeout_s=loki_settings.connect_timeout_s,
        max_connections=loki_settings.max_connections,
        retry_attempts=loki_settings.retry_attempts,
        retry_budget_s=loki_settings.retry_budget_s,
        breaker=CircuitBreaker(
            failure_threshold=loki_settings.breaker_failures,
            cooldown_s=loki_settings.breaker_cooldown_s,
        ),
        transport=loki_transport,
        observer=metrics.observe_loki,
    )
    library = default_pattern_library()
    cache, redis = build_cache(settings)
    runtime = Runtime(settings=settings, metrics=metrics, loki=loki, cache=cache, library=library)
    runtime.closers.append(cache.aclose)  # also closes the Redis pool the limiter shares
    runtime.closers.append(loki.aclose)
    install_store(runtime)
    install_protection(runtime, redis=redis)
    agent = install_agent(runtime)
    # Closed first (closers run in reverse): subscribers get a closing frame, tails end.
    # Tailed lines are masked like every other answer (AILOGS_AGENT_REDACT).
    runtime.stream_hub = stream.build_stream_hub(
        settings, library, metrics, agent.redactor.redact_records
    )
    runtime.closers.append(runtime.stream_hub.aclose)
    return runtime


def create_app(
    settings: Settings,
    *,
    loki_transport: httpx.AsyncBaseTransport | None = None,
    configure_logs: bool = True,
) -> FastAPI:
    """Build the ailogs ASGI app for these settings."""
    if configure_logs:
        configure_logging(settings.log_level)
    metrics = ServiceMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = build_runtime(settings, metrics, loki_transport=loki_transport)
        app.state.runtime = runtime
        await start_store(runtime)
        try:
            yield
        finally:
            for close in reversed(runtime.closers):
                await close()

    app = FastAPI(
        title="ailogs",
        version=__version__,
        description="Log intelligence for AI agents, in front of Grafana Loki.",
        lifespan=lifespan,
        default_response_class=JSONAnswer,
    )
    install_error_handlers(app, metrics)
    app.add_middleware(
        RequestContextMiddleware,
        metrics=metrics,
        max_body_bytes=settings.limits.max_body_bytes,
        finished=audit_call,
    )
    app.include_router(health.router, prefix=API_PREFIX)
    app.include_router(query.router, prefix=API_PREFIX)
    app.include_router(analysis.router, prefix=API_PREFIX)
    app.include_router(admin.router, prefix=API_PREFIX)
    app.include_router(stream.router, prefix=API_PREFIX)
    app.include_router(operations.router, prefix=API_PREFIX)
    app.include_router(conversations.router, prefix=API_PREFIX)
    app.include_router(workspace.router, prefix=API_PREFIX)
    app.include_router(export_route.router, prefix=API_PREFIX)
    app.include_router(context_route.router, prefix=API_PREFIX)
    install_mcp(app)
    app.include_router(health.metrics_router)
    return app
