"""The Loki HTTP client: one shared httpx.AsyncClient, retries, a breaker, typed results."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, stop_after_delay

from ailogs.domain import Direction
from ailogs.errors import LokiError, LokiUnavailable
from ailogs.loki.errors import error_for_response, error_for_transport
from ailogs.loki.models import IndexStats, QueryResponse
from ailogs.loki.parse import (
    load_json,
    parse_index_stats,
    parse_query_response,
    parse_series,
    parse_string_list,
)
from ailogs.loki.resilience import (
    RETRYABLE_TRANSPORT,
    CircuitBreaker,
    RetryableStatus,
    RetryAfterWait,
    is_retryable,
)

API = "/loki/api/v1"
# Ask Loki 3.x to keep structured metadata apart from stream labels.
CATEGORIZE = {"X-Loki-Response-Encoding-Flags": "categorize-labels"}

# Called after every HTTP exchange with (endpoint, seconds, outcome).
Observer = Callable[[str, float, str], None]


class LokiClient:
    """Async client for Loki's HTTP API. Build once per process; close with `aclose()`."""

    def __init__(
        self,
        base_url: str,
        *,
        tenant: str | None = None,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 3.0,
        max_connections: int = 50,
        retry_attempts: int = 3,
        retry_budget_s: float = 10.0,
        breaker: CircuitBreaker | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.tenant = tenant
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
            headers={"User-Agent": "ailogs"},
        )
        self._attempts = retry_attempts
        self._budget_s = retry_budget_s
        self._breaker = breaker or CircuitBreaker(failure_threshold=5, cooldown_s=30.0)
        self._observer = observer
        self._wait = RetryAfterWait()

    @property
    def breaker(self) -> CircuitBreaker:
        """The circuit breaker guarding this client."""
        return self._breaker

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    # --- transport ---------------------------------------------------------------

    def _headers(self, tenant: str | None, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        scope = tenant if tenant is not None else self.tenant
        if scope:
            headers["X-Scope-OrgID"] = scope
        return headers

    async def _get(
        self,
        path: str,
        params: Mapping[str, Any],
        *,
        tenant: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> bytes:
        """GET a Loki endpoint with retries and the breaker; the body of a 2xx answer."""
        if not self._breaker.allow():
            raise LokiUnavailable(
                "Loki is failing; calls are paused for "
                f"{self._breaker.seconds_until_retry():.0f}s (circuit open)"
            )
        request_headers = self._headers(tenant, headers)
        # Optional parameters arrive as None; Loki gets only the ones that are set.
        params = {name: value for name, value in params.items() if value is not None}
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self._attempts) | stop_after_delay(self._budget_s),
                wait=self._wait,
                retry=retry_if_exception(is_retryable),
                reraise=True,
            ):
                with attempt:
                    body = await self._exchange(path, params, request_headers)
        except RetryableStatus as exc:
            self._breaker.record_failure()
            raise error_for_response(exc.response) from exc
        except httpx.TransportError as exc:
            if isinstance(exc, RETRYABLE_TRANSPORT):
                self._breaker.record_failure()
            raise error_for_transport(exc) from exc
        except LokiError:
            # Loki answered (4xx): it is alive, the request was at fault.
            self._breaker.record_success()
            raise
        self._breaker.record_success()
        return body

    async def _exchange(
        self, path: str, params: Mapping[str, Any], headers: Mapping[str, str]
    ) -> bytes:
        started = time.perf_counter()
        outcome = "error"
        try:
            response = await self._http.get(path, params=params, headers=headers)
            outcome = str(response.status_code)
        finally:
            if self._observer is not None:
                self._observer(path.rsplit("/", 1)[-1], time.perf_counter() - started, outcome)
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableStatus(response)
        if response.status_code >= 400:
            raise error_for_response(response)
        content = response.content
        # httpx binds a response and its stream in a reference cycle, so a page body
        # (megabytes) would live until the next full collection; unbind it now.
        response.stream = httpx.ByteStream(b"")
        return content

    # --- endpoints ---------------------------------------------------------------

    async def query_range(
        self,
        query: str,
        *,
        start_ns: int,
        end_ns: int,
        limit: int | None = None,
        direction: Direction | None = None,
        step_s: float | None = None,
        tenant: str | None = None,
    ) -> QueryResponse:
        """Run a log or metric query over a range (`/query_range`)."""
        body = await self.query_range_body(
            query,
            start_ns=start_ns,
            end_ns=end_ns,
            limit=limit,
            direction=direction,
            step_s=step_s,
            tenant=tenant,
        )
        return parse_query_response(body)

    async def query_range_body(
        self,
        query: str,
        *,
        start_ns: int,
        end_ns: int,
        limit: int | None = None,
        direction: Direction | None = None,
        step_s: float | None = None,
        tenant: str | None = None,
    ) -> bytes:
        """`/query_range` as Loki's JSON body, for hot paths that parse only what they keep."""
        params = {
            "query": query,
            "start": start_ns,
            "end": end_ns,
            "limit": limit,
            "direction": direction.value if direction is not None else None,
            "step": step_s,
        }
        return await self._get(f"{API}/query_range", params, tenant=tenant, headers=CATEGORIZE)

    async def query(
        self,
        query: str,
        *,
        time_ns: int,
        limit: int | None = None,
        tenant: str | None = None,
    ) -> QueryResponse:
        """Run an instant metric query (`/query`)."""
        params = {"query": query, "time": time_ns, "limit": limit}
        return parse_query_response(await self._get(f"{API}/query", params, tenant=tenant))

    async def labels(self, *, start_ns: int, end_ns: int, tenant: str | None = None) -> list[str]:
        """Label names seen in the window."""
        body = await self._get(f"{API}/labels", {"start": start_ns, "end": end_ns}, tenant=tenant)
        return parse_string_list(body)

    async def label_values(
        self,
        name: str,
        *,
        start_ns: int,
        end_ns: int,
        query: str | None = None,
        tenant: str | None = None,
    ) -> list[str]:
        """Values of one label in the window, optionally within a selector."""
        if not name.replace("_", "a").isalnum() or name[0].isdigit():
            raise ValueError(f"not a label name: {name!r}")
        params = {"start": start_ns, "end": end_ns, "query": query}
        body = await self._get(f"{API}/label/{name}/values", params, tenant=tenant)
        return parse_string_list(body)

    async def series(
        self, match: Sequence[str], *, start_ns: int, end_ns: int, tenant: str | None = None
    ) -> list[dict[str, str]]:
        """Label sets of the streams matching any selector in `match`."""
        params = {"match[]": list(match), "start": start_ns, "end": end_ns}
        return parse_series(await self._get(f"{API}/series", params, tenant=tenant))

    async def index_stats(
        self, query: str, *, start_ns: int, end_ns: int, tenant: str | None = None
    ) -> IndexStats:
        """Loki's estimate of streams, chunks, bytes and entries for a selector."""
        params = {"query": query, "start": start_ns, "end": end_ns}
        return parse_index_stats(await self._get(f"{API}/index/stats", params, tenant=tenant))

    async def index_volume(
        self,
        query: str,
        *,
        start_ns: int,
        end_ns: int,
        limit: int | None = None,
        aggregate_by: str | None = None,
        tenant: str | None = None,
    ) -> QueryResponse:
        """Bytes per stream (or per label with `aggregate_by="labels"`) in the window."""
        params = {
            "query": query,
            "start": start_ns,
            "end": end_ns,
            "limit": limit,
            "aggregateBy": aggregate_by,
        }
        return parse_query_response(await self._get(f"{API}/index/volume", params, tenant=tenant))

    async def patterns(
        self,
        query: str,
        *,
        start_ns: int,
        end_ns: int,
        step_s: float | None = None,
        tenant: str | None = None,
    ) -> list[dict[str, Any]]:
        """Loki's own detected patterns (needs the pattern ingester)."""
        params = {"query": query, "start": start_ns, "end": end_ns, "step": step_s}
        payload = load_json(await self._get(f"{API}/patterns", params, tenant=tenant))
        data = payload.get("data") if isinstance(payload, dict) else None
        return [dict(item) for item in data or []]

    async def detected_fields(
        self, query: str, *, start_ns: int, end_ns: int, tenant: str | None = None
    ) -> list[dict[str, Any]]:
        """Fields Loki detects in the lines of a selector."""
        params = {"query": query, "start": start_ns, "end": end_ns}
        payload = load_json(await self._get(f"{API}/detected_fields", params, tenant=tenant))
        fields = payload.get("fields") if isinstance(payload, dict) else None
        return [dict(item) for item in fields or []]

    async def ready(self) -> bool:
        """True when Loki's `/ready` answers 200. Never raises; bypasses the breaker."""
        try:
            response = await self._http.get("/ready", timeout=3.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200
