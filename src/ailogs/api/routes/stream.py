"""`WS /stream` and its SSE twin: live logs, pattern alerts and rates (DESIGN.md §5).

Each connection has two tasks: a reader that applies client frames to the hub,
and a writer that drains the session's outbox to the socket. The hub never
touches the socket, so a client that stops reading only fills (and overflows)
its own outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, WebSocket
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.websockets import WebSocketDisconnect, WebSocketState

from ailogs.api.auth import handshake_credentials
from ailogs.api.metrics import ServiceMetrics
from ailogs.api.runtime import Runtime
from ailogs.errors import AilogsError, Forbidden, InvalidFrame
from ailogs.loki.tail import Backoff, LokiTail
from ailogs.services.access import RequestFacts
from ailogs.services.stream_alerts import PatternMatcher
from ailogs.services.stream_filter import FilterLimits
from ailogs.services.stream_frames import (
    CLOSE_CODES,
    ClientFrame,
    CloseCode,
    DropSource,
    ServerFrame,
    error_frame,
)
from ailogs.services.stream_hub import BatchRedactor, HubLimits, StreamHub, StreamSession
from ailogs.settings import Settings

log = logging.getLogger("ailogs.api.stream")
router = APIRouter(tags=["stream"])

_FRAME_TYPES = ", ".join(kind.value for kind in ClientFrame)


def build_stream_hub(
    settings: Settings,
    patterns: PatternMatcher | None,
    metrics: ServiceMetrics,
    redact: BatchRedactor | None = None,
) -> StreamHub:
    """The process's stream hub, tailing the configured Loki; gauges read it live.

    `redact` masks every tailed batch once, before subscribers or alerts see it.
    """
    stream = settings.stream
    source = LokiTail(
        settings.loki.url,
        tenant=settings.loki.tenant,
        delay_for_s=stream.tail_delay_for_s,
        open_timeout_s=settings.loki.connect_timeout_s + 5.0,
        backoff=Backoff(max_s=stream.tail_backoff_max_s),
    )
    limits = HubLimits(
        max_sessions=stream.max_subscribers,
        max_sessions_per_client=stream.max_subscribers_per_client,
        max_upstreams_per_tenant=stream.max_upstreams_per_tenant,
        queue_max_lines=stream.queue_max_lines,
        alert_interval_s=stream.alert_interval_s,
        metrics_interval_s=stream.metrics_interval_s,
        flush_interval_s=stream.flush_interval_s,
        heartbeat_s=stream.heartbeat_s,
        send_timeout_s=stream.send_timeout_s,
        filter=FilterLimits(
            max_services=stream.max_filter_services,
            max_patterns=stream.max_filter_patterns,
            max_search_length=stream.max_search_length,
        ),
    )

    def count_drop(lines: int, source: DropSource) -> None:
        metrics.stream_dropped.labels(source.value).inc(lines)

    hub = StreamHub(
        source=source, patterns=patterns, limits=limits, on_drop=count_drop, redact=redact
    )
    metrics.stream_subscribers.set_function(lambda: hub.session_count)
    metrics.stream_upstreams.set_function(lambda: hub.upstream_count)
    return hub


@dataclass(frozen=True, slots=True)
class Caller:
    """Who opened the stream: the limit bucket, the Loki tenant, readable workspaces."""

    client_key: str
    tenant: str | None
    workspaces: frozenset[str] = frozenset()

    def check_workspace(self, raw_filter: Any) -> None:
        """Raise Forbidden when a workspace-restricted key asks for another workspace."""
        if not self.workspaces:
            return
        wanted = raw_filter.get("workspace_id") if isinstance(raw_filter, dict) else None
        if wanted not in self.workspaces:
            raise Forbidden(
                "This key reads only some workspaces; set filter.workspace_id to one of them.",
                field="workspace_id",
            )


async def identify(runtime: Runtime, authorization: str | None, client: str, path: str) -> Caller:
    """Authenticate the handshake like HTTP requests (when keys exist) and count its rate."""
    access = runtime.access
    if access is None:
        return Caller(client_key=f"addr:{client}", tenant=runtime.settings.loki.tenant)
    facts = RequestFacts(path=path, client=client, authorization=authorization)
    principal = await access.authenticate(facts)
    await access.check_rate(principal, facts)
    return Caller(principal.rate_key, principal.tenant, frozenset(principal.workspaces))


def _hub(runtime: Runtime) -> StreamHub:
    hub = getattr(runtime, "stream_hub", None)
    if not isinstance(hub, StreamHub):
        raise RuntimeError("the stream hub is not built")
    return hub


@router.websocket("/stream")
async def stream_socket(websocket: WebSocket) -> None:
    """Live tail: subscribe with a filter, receive log, alert, metrics and dropped frames."""
    runtime: Runtime = websocket.app.state.runtime
    hub = _hub(runtime)
    credentials = handshake_credentials(websocket)  # header, or the bearer.<key> subprotocol
    await websocket.accept(subprotocol=credentials.subprotocol)
    client = websocket.client.host if websocket.client else "unknown"
    try:
        caller = await identify(runtime, credentials.authorization, client, websocket.url.path)
        session = hub.open_session(
            client_key=caller.client_key, tenant=caller.tenant, heartbeat=True
        )
    except AilogsError as exc:
        await websocket.send_text(error_frame(exc.code.value, exc.message, exc.how_to_fix))
        await websocket.close(code=CloseCode.POLICY_VIOLATION)
        return
    settings = runtime.settings.stream
    reader = asyncio.create_task(_read(websocket, hub, session, caller, settings.max_frame_bytes))
    writer = asyncio.create_task(_write(websocket, session))
    # The hub's ticker aborts a writer stuck in one send past `send_timeout_s`.
    session.on_send_stalled = writer.cancel
    try:
        done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
        close_code = reader.result() if reader in done and not reader.exception() else None
    finally:
        hub.close_session(session)
        for task in (reader, writer):
            task.cancel()
        for task in (reader, writer):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if close_code is not None:
        with contextlib.suppress(Exception):
            await websocket.close(code=close_code, reason="frame too large")


async def _read(
    websocket: WebSocket,
    hub: StreamHub,
    session: StreamSession,
    caller: Caller,
    max_frame_bytes: int,
) -> CloseCode | None:
    """Apply client frames until the client leaves (None) or must be closed (a code)."""
    while True:
        try:
            message = await websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            return None
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        data: str | bytes = text if text is not None else message.get("bytes") or b""
        if _too_large(data, max_frame_bytes):
            return CloseCode.MESSAGE_TOO_BIG
        try:
            _apply(hub, session, caller, data)
        except AilogsError as exc:
            session.send_error(exc)


def _too_large(data: str | bytes, limit: int) -> bool:
    if len(data) > limit:
        return True
    return isinstance(data, str) and len(data) * 4 > limit and len(data.encode()) > limit


def _apply(hub: StreamHub, session: StreamSession, caller: Caller, data: str | bytes) -> None:
    try:
        frame = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise InvalidFrame("the frame is not valid JSON") from None
    if not isinstance(frame, dict):
        raise InvalidFrame("a frame must be a JSON object with a `type`")
    try:
        kind = ClientFrame(str(frame.get("type")))
    except ValueError:
        raise InvalidFrame(
            f"unknown frame type {str(frame.get('type'))[:32]!r}; use one of {_FRAME_TYPES}",
            field="type",
        ) from None
    if kind is ClientFrame.PING:
        extra = {"id": frame["id"]} if isinstance(frame.get("id"), str | int) else {}
        session.send(ServerFrame.PONG, **extra)
        return
    if kind is ClientFrame.UNSUBSCRIBE:
        hub.unsubscribe(session)
        return
    raw_filter = frame.get("filter")
    if raw_filter is not None and not isinstance(raw_filter, dict):
        raise InvalidFrame("`filter` must be an object", field="filter")
    caller.check_workspace(raw_filter)
    if kind is ClientFrame.SUBSCRIBE:
        hub.subscribe(session, raw_filter)
    else:
        hub.update_filter(session, raw_filter)


async def _write(websocket: WebSocket, session: StreamSession) -> None:
    """Drain the outbox to the socket until the session closes.

    No timer per send: heartbeats and stuck-send aborts come from the hub's
    ticker, which keeps a wake-up of 500 writers to a few microseconds each.
    """
    outbox = session.outbox
    while True:
        frames = await outbox.take()
        if not frames:
            code = CLOSE_CODES.get(outbox.close_reason) if outbox.close_reason else None
            if websocket.application_state is WebSocketState.CONNECTED:
                await websocket.close(code=code or CloseCode.NORMAL)
            return
        for frame in frames:
            await websocket.send_text(frame)
        outbox.sent()


@router.get("/stream/sse")
async def stream_sse(
    request: Request,
    services: Annotated[str | None, Query(description="Comma list of services")] = None,
    severity_threshold: Annotated[str | None, Query()] = None,
    pattern_alerts: Annotated[str | None, Query(description="Comma list of ids/categories")] = None,
    search: Annotated[str | None, Query()] = None,
    workspace_id: Annotated[str | None, Query()] = None,
    include_logs: bool = True,
) -> EventSourceResponse:
    """The live stream as Server-Sent Events: same filter and event types as the WebSocket."""
    runtime: Runtime = request.app.state.runtime
    hub = _hub(runtime)
    client = request.client.host if request.client else "unknown"
    caller = await identify(runtime, request.headers.get("authorization"), client, request.url.path)
    raw_filter: dict[str, Any] = {
        "services": _split(services),
        "pattern_alerts": _split(pattern_alerts),
        "include_logs": include_logs,
    }
    for name, value in (
        ("severity_threshold", severity_threshold),
        ("search", search),
        ("workspace_id", workspace_id),
    ):
        if value is not None:
            raw_filter[name] = value
    caller.check_workspace(raw_filter)
    session = hub.open_session(client_key=caller.client_key, tenant=caller.tenant)
    try:
        hub.subscribe(session, raw_filter)
    except AilogsError:
        hub.close_session(session)
        raise
    return EventSourceResponse(_events(hub, session), ping=int(runtime.settings.stream.heartbeat_s))


async def _events(hub: StreamHub, session: StreamSession) -> AsyncIterator[ServerSentEvent]:
    try:
        while True:
            frames = await session.outbox.take()
            if not frames:
                return
            for frame in frames:
                yield ServerSentEvent(data=frame, event=frame_type(frame))
            session.outbox.sent()
    finally:
        hub.close_session(session)


def frame_type(frame: str) -> str:
    """The `type` of an encoded server frame (always its first key)."""
    prefix = '{"type":"'
    if frame.startswith(prefix):
        end = frame.find('"', len(prefix))
        if end > 0:
            return frame[len(prefix) : end]
    value = orjson.loads(frame).get("type")
    return str(value)


def _split(value: str | None) -> list[str]:
    if not value:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]
