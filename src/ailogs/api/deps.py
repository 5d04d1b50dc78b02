"""Annotated dependencies: how routes reach the runtime's adapters.

Every dependency is `async def`, even without I/O: FastAPI runs a plain `def`
dependency in its thread pool, a thread hop per dependency per request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from ailogs.api.auth import get_caller_scope
from ailogs.api.runtime import Runtime
from ailogs.cache.base import QueryCache
from ailogs.errors import DatabaseUnavailable
from ailogs.loki.client import LokiClient
from ailogs.services.pricing import PriceTable
from ailogs.services.query import QueryScope
from ailogs.settings import Settings


async def get_runtime(request: Request) -> Runtime:
    """The process runtime built by the lifespan."""
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_settings(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Settings:
    """The settings the app was built with."""
    return runtime.settings


async def get_loki(runtime: Annotated[Runtime, Depends(get_runtime)]) -> LokiClient:
    """The shared Loki client."""
    return runtime.loki


async def get_cache(runtime: Annotated[Runtime, Depends(get_runtime)]) -> QueryCache:
    """The query cache."""
    return runtime.cache


async def get_scope(scope: Annotated[QueryScope, Depends(get_caller_scope)]) -> QueryScope:
    """The caller's Loki scope: its key's tenant and the limits (see `api.auth`)."""
    return scope


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
LokiDep = Annotated[LokiClient, Depends(get_loki)]
CacheDep = Annotated[QueryCache, Depends(get_cache)]
ScopeDep = Annotated[QueryScope, Depends(get_scope)]


async def get_session(
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> AsyncIterator[AsyncSession]:
    """A unit of work on the operations store: committed after the route, rolled back on error."""
    if runtime.database is None:
        raise DatabaseUnavailable("the operations store is not configured")
    async with runtime.database.session() as session:
        yield session


async def get_prices(runtime: Annotated[Runtime, Depends(get_runtime)]) -> PriceTable:
    """The model price table loaded at start-up."""
    if runtime.prices is None:
        raise DatabaseUnavailable("the operations store is not configured")
    return runtime.prices


SessionDep = Annotated[AsyncSession, Depends(get_session)]
PricesDep = Annotated[PriceTable, Depends(get_prices)]
