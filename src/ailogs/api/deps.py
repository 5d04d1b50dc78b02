"""Annotated dependencies: how routes reach the runtime's adapters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ailogs.api.auth import get_caller_scope
from ailogs.api.runtime import Runtime
from ailogs.cache.base import QueryCache
from ailogs.loki.client import LokiClient
from ailogs.services.query import QueryScope
from ailogs.settings import Settings


def get_runtime(request: Request) -> Runtime:
    """The process runtime built by the lifespan."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_settings(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Settings:
    """The settings the app was built with."""
    return runtime.settings


def get_loki(runtime: Annotated[Runtime, Depends(get_runtime)]) -> LokiClient:
    """The shared Loki client."""
    return runtime.loki


def get_cache(runtime: Annotated[Runtime, Depends(get_runtime)]) -> QueryCache:
    """The query cache."""
    return runtime.cache


def get_scope(scope: Annotated[QueryScope, Depends(get_caller_scope)]) -> QueryScope:
    """The caller's Loki scope: its key's tenant and the limits (see `api.auth`)."""
    return scope


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
LokiDep = Annotated[LokiClient, Depends(get_loki)]
CacheDep = Annotated[QueryCache, Depends(get_cache)]
ScopeDep = Annotated[QueryScope, Depends(get_scope)]
