"""Operator endpoints: cache invalidation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from ailogs.api.auth import CallerDep
from ailogs.api.deps import RuntimeDep
from ailogs.api.responses import JSONAnswer
from ailogs.cache.keys import valid_key_prefix
from ailogs.cache.redis import STORE_ERRORS
from ailogs.errors import CacheUnavailable, Forbidden, ValidationFailed

router = APIRouter(prefix="/admin", tags=["admin"])


@router.delete("/cache", response_class=JSONAnswer)
async def invalidate_cache(
    runtime: RuntimeDep,
    caller: CallerDep,
    tenant: Annotated[
        str | None, Query(max_length=64, description="Tenant whose answers to drop.")
    ] = None,
    prefix: Annotated[
        str | None,
        Query(max_length=80, description="Only keys under this prefix (hex, `:`, `q:`)."),
    ] = None,
    all_tenants: Annotated[
        bool, Query(description="Every tenant's answers (open mode only).")
    ] = False,
) -> Response:
    """Drop cached answers of a tenant (default: the caller's), optionally under a key prefix.

    A key may drop only its own tenant's answers and only when it reads every
    workspace; without keys (open mode) any tenant may be named.
    """
    if caller.workspaces:
        raise Forbidden("Only a key that reads every workspace may invalidate the cache.")
    if not caller.anonymous and tenant is not None and tenant != caller.tenant:
        raise Forbidden("A key may invalidate only its own tenant's cache.", field="tenant")
    if prefix is not None and not valid_key_prefix(prefix):
        raise ValidationFailed("prefix may hold only hex digits and ':'", field="prefix")
    if all_tenants and not caller.anonymous:
        raise Forbidden("all_tenants is allowed only on a server without keys.")
    # "" is the tenant of callers without one (no X-Scope-OrgID); None means every tenant.
    target = None if all_tenants else (tenant if tenant is not None else caller.tenant or "")
    try:
        deleted = await runtime.cache.invalidate(tenant=target, prefix=prefix)
    except STORE_ERRORS:
        raise CacheUnavailable("The cache could not be reached; nothing was deleted.") from None
    return JSONAnswer({"deleted": deleted, "backend": runtime.cache.backend, "prefix": prefix})
