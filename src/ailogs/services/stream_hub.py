"""The live-stream hub: few upstream Loki tails fanned out to many subscribers.

One upstream tail serves every subscriber of a tenant whose services it covers
(the tail of all services covers everyone); a new tail opens only when none
does, and closes when its last subscriber leaves. Each line is matched against
the pattern library once per upstream and encoded once; subscribers with equal
filters share the same encoded frame. The fan-out only appends to bounded
outboxes, so a slow or dead client never delays another.

Every batch is redacted once, before anything is matched, counted or encoded,
so no subscriber (nor an alert's example line) ever sees a masked secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ailogs.domain import LogRecord
from ailogs.errors import AilogsError, ErrorCode, StreamLimitExceeded
from ailogs.logql import selector_for
from ailogs.loki.tail import TailBatch, TailEvent, TailNotice, TailState
from ailogs.services.stream_alerts import AlertAggregator, PatternMatcher, alert_frame
from ailogs.services.stream_filter import CompiledFilter, FilterLimits, compile_filter
from ailogs.services.stream_frames import CloseReason, DropSource, ServerFrame, encode, error_frame
from ailogs.services.stream_outbox import FrameMerger, Outbox
from ailogs.services.stream_upstream import Upstream, UpstreamKey, encode_log_frame

log = logging.getLogger("ailogs.stream")


class TailSource(Protocol):
    """Opens upstream tails (`loki.tail.LokiTail`, or an in-memory source in tests)."""

    def tail(self, query: str, *, tenant: str | None = None) -> AsyncIterator[TailEvent]:
        """Yield batches of new lines for `query`, reconnecting as needed."""
        ...


# Called with (lines dropped, why) so the app can count them.
DropHook = Callable[[int, DropSource], None]
# Masks secrets in a batch of records (`analysis.redaction.Redactor.redact_records`).
BatchRedactor = Callable[[Sequence[LogRecord]], list[LogRecord]]

HEARTBEAT = encode(ServerFrame.PONG, heartbeat=True)


@dataclass(frozen=True, slots=True)
class HubLimits:
    """Bounds of the hub (from `StreamSettings`)."""

    max_sessions: int = 1000
    max_sessions_per_client: int = 50
    max_upstreams_per_tenant: int = 8
    queue_max_lines: int = 2000
    alert_interval_s: float = 5.0
    metrics_interval_s: float = 10.0
    tick_s: float = 0.5
    # A writer sends log frames at most this often (0: as soon as they arrive).
    flush_interval_s: float = 0.0
    # Sessions opened with heartbeats get a `pong` after this long without a frame.
    heartbeat_s: float = 20.0
    # A send blocked this long means the client is gone: the session is aborted.
    send_timeout_s: float = 30.0
    filter: FilterLimits = field(default_factory=FilterLimits)


class StreamSession:
    """One client connection: its outbox, its filter and the upstream serving it."""

    def __init__(
        self,
        session_id: int,
        client_key: str,
        tenant: str | None,
        outbox: Outbox,
        alert_interval_s: float,
        heartbeat: bool = False,
    ) -> None:
        self.id = session_id
        self.client_key = client_key
        self.tenant = tenant
        self.outbox = outbox
        self.filter: CompiledFilter | None = None
        self.upstream: Upstream | None = None
        self.alerts = AlertAggregator(alert_interval_s)
        self.heartbeat = heartbeat
        # Set by the transport: ends the connection when its writer is stuck in a send.
        self.on_send_stalled: Callable[[], object] | None = None

    def send(self, kind: ServerFrame, **fields: Any) -> None:
        """Queue a control frame for this session."""
        self.outbox.put_control(kind, encode(kind, **fields))

    def send_error(self, exc: AilogsError) -> None:
        """Queue an `error` frame for a refused client request."""
        extra = {"field": exc.field} if exc.field else {}
        self.outbox.put_control(
            ServerFrame.ERROR, error_frame(exc.code.value, exc.message, exc.how_to_fix, **extra)
        )


class StreamHub:
    """Sessions, upstream tails and the fan-out between them."""

    def __init__(
        self,
        *,
        source: TailSource,
        patterns: PatternMatcher | None,
        limits: HubLimits | None = None,
        on_drop: DropHook | None = None,
        redact: BatchRedactor | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._patterns = patterns
        self._redact = redact
        self.limits = limits or HubLimits()
        self._on_drop = on_drop
        self._clock = clock
        self._sessions: dict[int, StreamSession] = {}
        self._per_client: Counter[str] = Counter()
        self._upstreams: dict[UpstreamKey, Upstream] = {}
        self._ids = itertools.count(1)
        self._ticker: asyncio.Task[None] | None = None
        self._closing = False
        self._next_metrics_at = 0.0
        self._merger = FrameMerger()

    # --- observation -----------------------------------------------------------

    @property
    def session_count(self) -> int:
        """Open sessions (connected clients)."""
        return len(self._sessions)

    @property
    def subscriber_count(self) -> int:
        """Sessions with an active subscription."""
        return sum(1 for s in self._sessions.values() if s.upstream is not None)

    @property
    def upstream_count(self) -> int:
        """Upstream Loki tails currently open."""
        return len(self._upstreams)

    def upstream_queries(self) -> list[str]:
        """The LogQL of every open upstream tail."""
        return sorted(up.query for up in self._upstreams.values())

    # --- sessions ----------------------------------------------------------------

    def open_session(
        self, *, client_key: str, tenant: str | None, heartbeat: bool = False
    ) -> StreamSession:
        """Admit a new connection, or raise StreamLimitExceeded.

        With `heartbeat`, the ticker sends a `pong` after `heartbeat_s` without a frame.
        """
        if self._closing:
            raise StreamLimitExceeded("the server is shutting down", remediation="Reconnect later.")
        limits = self.limits
        if len(self._sessions) >= limits.max_sessions:
            raise StreamLimitExceeded(f"this server serves at most {limits.max_sessions} streams")
        if self._per_client[client_key] >= limits.max_sessions_per_client:
            raise StreamLimitExceeded(
                f"at most {limits.max_sessions_per_client} streams per client",
                remediation="Close streams you no longer read, or share one with update_filter.",
            )
        outbox = Outbox(
            max_log_lines=limits.queue_max_lines,
            on_drop=self._slow_drop,
            min_flush_interval_s=limits.flush_interval_s,
            clock=self._clock,
            merger=self._merger,
        )
        session = StreamSession(
            next(self._ids), client_key, tenant, outbox, limits.alert_interval_s, heartbeat
        )
        self._sessions[session.id] = session
        self._per_client[client_key] += 1
        self._ensure_ticker()
        return session

    def close_session(self, session: StreamSession) -> None:
        """Forget a connection (idempotent); its upstream closes if it was the last."""
        if self._sessions.pop(session.id, None) is None:
            return
        self._per_client[session.client_key] -= 1
        if self._per_client[session.client_key] <= 0:
            del self._per_client[session.client_key]
        self._detach(session)

    def subscribe(self, session: StreamSession, raw_filter: Mapping[str, Any] | None) -> None:
        """Start (or replace) the session's subscription; `subscribed` echoes the filter."""
        compiled = compile_filter(raw_filter, limits=self.limits.filter, patterns=self._patterns)
        self._apply(session, compiled)
        session.send(ServerFrame.SUBSCRIBED, filter=compiled.describe())

    def update_filter(self, session: StreamSession, raw_filter: Mapping[str, Any] | None) -> None:
        """Change the filter in place; the upstream changes only when services need it."""
        self.subscribe(session, raw_filter)

    def unsubscribe(self, session: StreamSession) -> None:
        """Stop the subscription; the connection stays open for a new one."""
        self._detach(session)
        session.filter = None
        session.send(ServerFrame.UNSUBSCRIBED)

    def _apply(self, session: StreamSession, compiled: CompiledFilter) -> None:
        current = session.upstream
        if current is None or not current.key.covers(compiled.services):
            target = self._upstream_for(session.tenant, compiled.services)
            self._detach(session)
            target.sessions.add(session)
            session.upstream = target
        session.filter = compiled
        session.alerts.forget(compiled.alert_ids)

    def _upstream_for(self, tenant: str | None, services: frozenset[str]) -> Upstream:
        candidates = [
            up
            for key, up in self._upstreams.items()
            if key.tenant == tenant and key.covers(services)
        ]
        if candidates:
            # The narrowest covering tail reads the fewest lines for this subscriber.
            return min(candidates, key=lambda up: up.key.breadth)
        open_here = sum(1 for key in self._upstreams if key.tenant == tenant)
        if open_here >= self.limits.max_upstreams_per_tenant:
            raise StreamLimitExceeded(
                f"{open_here} live tails are open for this tenant, the most Loki allows us",
                remediation="Subscribe to all services (omit `services`) "
                "or to a set already watched.",
            )
        key = UpstreamKey(tenant, services)
        upstream = Upstream(key, selector_for(tuple(sorted(services))), since=self._clock())
        self._upstreams[key] = upstream
        upstream.task = asyncio.create_task(self._run(upstream), name=f"tail {upstream.query}")
        log.info("upstream tail opened", extra={"query": upstream.query})
        return upstream

    def _detach(self, session: StreamSession) -> None:
        upstream = session.upstream
        if upstream is None:
            return
        session.upstream = None
        upstream.sessions.discard(session)
        if not upstream.sessions:
            self._close_upstream(upstream)

    def _close_upstream(self, upstream: Upstream) -> None:
        if self._upstreams.get(upstream.key) is upstream:
            del self._upstreams[upstream.key]
        if upstream.task is not None and not upstream.task.done():
            upstream.task.cancel()
        log.info("upstream tail closed", extra={"query": upstream.query})

    # --- upstream ---------------------------------------------------------------

    async def _run(self, upstream: Upstream) -> None:
        try:
            async for event in self._source.tail(upstream.query, tenant=upstream.key.tenant):
                if isinstance(event, TailBatch):
                    self._dispatch(upstream, event)
                elif isinstance(event, TailNotice):
                    self._notice(upstream, event)
        except asyncio.CancelledError:
            raise
        except AilogsError as exc:
            self._fail(upstream, exc.code.value, exc.message, exc.how_to_fix)
        except Exception:
            log.exception("upstream tail failed", extra={"query": upstream.query})
            self._fail(upstream, ErrorCode.INTERNAL_ERROR.value, "the live tail failed", None)

    def _fail(self, upstream: Upstream, code: str, message: str, remediation: str | None) -> None:
        frame = error_frame(code, message, remediation)
        for session in list(upstream.sessions):
            session.outbox.put_control(ServerFrame.ERROR, frame)
            session.upstream = None
            session.filter = None
        upstream.sessions.clear()
        self._close_upstream(upstream)

    def _notice(self, upstream: Upstream, notice: TailNotice) -> None:
        if notice.state is TailState.RECONNECTING and notice.attempt == 1:
            frame = error_frame(
                ErrorCode.LOKI_UNAVAILABLE.value,
                f"the Loki tail was lost ({notice.reason}); reconnecting",
                "Keep the connection open: lines resume after the last one delivered.",
                retrying=True,
            )
            for session in upstream.sessions:
                session.outbox.put_control(ServerFrame.ERROR, frame)

    def _dispatch(self, upstream: Upstream, batch: TailBatch) -> None:
        """Fan one batch out. Runs synchronously: it never awaits a subscriber."""
        records: Sequence[LogRecord] = batch.records
        if records and self._redact is not None:
            records = self._redact(records)
        matches: list[tuple[str, ...]] = []
        if records:
            upstream.count(records)
            if self._patterns is not None:
                matches = self._patterns.match_lines([r.line for r in records])
        encoded = upstream.encoder(records, matches)
        hits = [(r, ids) for r, ids in zip(records, matches, strict=False) if ids]
        frames: dict[tuple[object, ...], tuple[str, int] | None] = {}
        now = self._clock()
        for session in upstream.sessions:
            compiled = session.filter
            if compiled is None:
                continue
            if records and compiled.include_logs:
                key = compiled.log_key
                if key not in frames:
                    chosen = [i for i, r in enumerate(records) if compiled.accepts(r)]
                    frames[key] = encode_log_frame(encoded, chosen) if chosen else None
                frame = frames[key]
                if frame is not None:
                    session.outbox.put_log(*frame)
            if hits and compiled.alert_ids:
                self._alert(session, compiled, hits, now)
            if batch.dropped:
                lost = sum(
                    1
                    for entry in batch.dropped
                    if not compiled.services
                    or entry.labels.get("service_name") in compiled.services
                )
                if lost:
                    session.outbox.report_loki_dropped(lost)
                    if self._on_drop is not None:
                        self._on_drop(lost, DropSource.LOKI)

    def _alert(
        self,
        session: StreamSession,
        compiled: CompiledFilter,
        hits: list[tuple[Any, tuple[str, ...]]],
        now: float,
    ) -> None:
        for record, ids in hits:
            if not compiled.in_scope(record):
                continue
            for pattern_id in ids:
                if pattern_id in compiled.alert_ids:
                    due = session.alerts.observe(pattern_id, record, now)
                    if due is not None:
                        session.outbox.put_control(
                            ServerFrame.ALERT, alert_frame(due, self._pattern(pattern_id))
                        )

    def _pattern(self, pattern_id: str) -> Any:
        return self._patterns.get(pattern_id) if self._patterns is not None else None

    def _slow_drop(self, lines: int) -> None:
        if self._on_drop is not None:
            self._on_drop(lines, DropSource.SLOW_CONSUMER)

    # --- periodic work -------------------------------------------------------------

    def _ensure_ticker(self) -> None:
        if self._ticker is None or self._ticker.done():
            self._next_metrics_at = self._clock() + self.limits.metrics_interval_s
            self._ticker = asyncio.create_task(self._tick_forever(), name="stream hub ticker")

    async def _tick_forever(self) -> None:
        while not self._closing:
            await asyncio.sleep(self.limits.tick_s)
            try:
                self.tick()
            except Exception:
                log.exception("stream hub tick failed")

    def tick(self) -> None:
        """Send due alerts and heartbeats, abort stuck sends; every metrics interval, rates."""
        now = self._clock()
        limits = self.limits
        for session in list(self._sessions.values()):
            outbox = session.outbox
            abort = session.on_send_stalled
            if abort is not None and outbox.send_stalled(now, limits.send_timeout_s):
                abort()
                continue
            if session.heartbeat and outbox.idle(now, limits.heartbeat_s):
                outbox.put_control(ServerFrame.PONG, HEARTBEAT)
            for due in session.alerts.due(now):
                session.outbox.put_control(
                    ServerFrame.ALERT, alert_frame(due, self._pattern(due.pattern_id))
                )
        if now < self._next_metrics_at:
            return
        self._next_metrics_at = now + self.limits.metrics_interval_s
        for upstream in self._upstreams.values():
            rates = upstream.take_rates(now)
            cache: dict[frozenset[str], str] = {}
            for session in upstream.sessions:
                compiled = session.filter
                if compiled is None:
                    continue
                wanted = compiled.services
                if wanted not in cache:
                    shown = {s: r for s, r in rates.services.items() if not wanted or s in wanted}
                    cache[wanted] = encode(
                        ServerFrame.METRICS, window_s=rates.window_s, services=shown
                    )
                session.outbox.put_control(ServerFrame.METRICS, cache[wanted])

    # --- shutdown ------------------------------------------------------------------

    async def aclose(self) -> None:
        """Tell every session the server is going away, then close upstream tails."""
        self._closing = True
        frame = error_frame(
            ErrorCode.SHUTTING_DOWN.value,
            "the server is shutting down",
            "Reconnect; another replica or the restarted server will serve the stream.",
        )
        for session in list(self._sessions.values()):
            session.outbox.close(CloseReason.SHUTTING_DOWN, frame)
        tasks = [up.task for up in self._upstreams.values() if up.task is not None]
        if self._ticker is not None:
            tasks.append(self._ticker)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._upstreams.clear()
