"""Requests reconstructed from log records: who called whom, who failed, where time went.

A request is the set of records sharing a `trace_id` (or a `correlation_id`).
Edges come, best first, from span ids (a record's parent span belongs to its
caller), from the `upstream_service` field, and as a last resort from time
order (a service's caller is whoever logged just before it first appeared).
This module is plain Python for speed; `graph` turns the result into NetworkX.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ailogs.domain import LEVEL_RANK, NS_PER_SECOND, LogRecord

WARNING_RANK = LEVEL_RANK["warning"]
_INFO_RANK = LEVEL_RANK["info"]
# Levels arrive lower-cased from `make_record`; unknown ones rank as info.
_RANKS = dict(LEVEL_RANK)
_ERROR_RANK = LEVEL_RANK["error"]


class EdgeSource(StrEnum):
    """Where a caller → callee edge was learnt; spans are the most trustworthy."""

    SPAN = "span"
    UPSTREAM = "upstream_service"
    TIME_ORDER = "time_order"


@dataclass(slots=True)
class Event:
    """The few fields of a record the correlator reads, extracted once."""

    ts: int
    service: str
    rank: int
    message: str
    span: str | None
    parent: str | None
    upstream: str | None
    duration_ms: float | None
    line: str = ""

    @property
    def is_error(self) -> bool:
        """Error level or worse."""
        return self.rank >= _ERROR_RANK


@dataclass(slots=True)
class Request:
    """One request across services, with its call edges and timings."""

    key: str
    events: list[Event]
    order: list[str] = field(default_factory=list)
    edges: dict[tuple[str, str], EdgeSource] = field(default_factory=dict)
    calls: dict[tuple[str, str], int] = field(default_factory=dict)
    first_error: dict[str, Event] = field(default_factory=dict)
    self_ms: dict[str, float] = field(default_factory=dict)
    total_ms: dict[str, float] = field(default_factory=dict)
    adjacency: dict[str, list[str]] | None = None
    _adjacency_size: int = -1

    @property
    def failed(self) -> bool:
        """True when any service logged an error in this request."""
        return bool(self.first_error)

    def callees(self, service: str) -> list[str]:
        """Direct callees of a service in this request."""
        return self._adjacency().get(service, [])

    def callers(self, service: str) -> list[str]:
        """Direct callers of a service in this request."""
        return [caller for caller, callee in self.edges if callee == service]

    def _adjacency(self) -> dict[str, list[str]]:
        if self.adjacency is None or self._adjacency_size != len(self.edges):
            adjacency: dict[str, list[str]] = {}
            for caller, callee in self.edges:
                adjacency.setdefault(caller, []).append(callee)
            self.adjacency = adjacency
            self._adjacency_size = len(self.edges)
        return self.adjacency

    def descendants(self, service: str) -> set[str]:
        """Every service reachable from `service` by calls."""
        adjacency = self._adjacency()
        seen: set[str] = set()
        stack = [service]
        while stack:
            for callee in adjacency.get(stack.pop(), ()):
                if callee not in seen and callee != service:
                    seen.add(callee)
                    stack.append(callee)
        return seen


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def to_event(record: LogRecord) -> Event:
    """Extract what the correlator needs from one record (DESIGN.md §3 field names)."""
    fields = record.fields
    span = fields.get("span_id")
    parent = fields.get("parent_span_id")
    upstream = fields.get("upstream_service")
    duration = fields.get("duration_ms")
    # Positional construction: this runs once per line on the hot path.
    return Event(
        record.timestamp_ns,
        record.service,
        _RANKS.get(record.level, _INFO_RANK),
        record.message,
        span if span is None or type(span) is str else _text(span),
        parent if parent is None or type(parent) is str else _text(parent),
        upstream if upstream is None or type(upstream) is str else _text(upstream),
        _number(duration, record),
        record.line,
    )


def _number(value: Any, record: LogRecord) -> float | None:
    if value is None:
        return None
    if type(value) is float or type(value) is int:
        return float(value)
    return record.field_float("duration_ms")


def request_key(record: LogRecord) -> str | None:
    """The id that ties a record to its request: trace id first, then correlation id."""
    fields = record.fields
    return _text(fields.get("trace_id")) or _text(fields.get("correlation_id"))


def group_requests(records: Iterable[LogRecord]) -> tuple[list[Request], list[Event]]:
    """Requests built from records that carry an id, plus the events that carry none."""
    grouped: defaultdict[str, list[Event]] = defaultdict(list)
    loose: list[Event] = []
    for record in records:
        fields = record.fields
        # `request_key` inlined with a fast path for the usual string ids (hot loop).
        key = fields.get("trace_id")
        if type(key) is not str or not key:
            key = _text(key) or _text(fields.get("correlation_id"))
        if key is None:
            loose.append(to_event(record))
        else:
            grouped[key].append(to_event(record))
    requests = [build_request(key, events) for key, events in grouped.items()]
    return requests, loose


def build_request(key: str, events: list[Event]) -> Request:
    """Order the events of one request and derive its edges and timings."""
    events.sort(key=_by_time)
    request = Request(key=key, events=events)
    order = request.order
    first_error = request.first_error
    seen: set[str] = set()
    spans = upstream = False
    for event in events:
        if event.service not in seen:
            seen.add(event.service)
            order.append(event.service)
        if event.rank >= _ERROR_RANK and event.service not in first_error:
            first_error[event.service] = event
        spans = spans or event.span is not None
        upstream = upstream or event.upstream is not None
    if spans:
        _span_edges(request)
    if upstream:
        _upstream_edges(request)
    if len(order) > 1:
        _time_order_edges(request)
    _timings(request)
    return request


def _by_time(event: Event) -> int:
    return event.ts


def _add_edge(request: Request, caller: str, callee: str, source: EdgeSource) -> None:
    if caller == callee:
        return
    pair = (caller, callee)
    if (callee, caller) in request.edges and source is EdgeSource.TIME_ORDER:
        return
    request.edges.setdefault(pair, source)
    request.calls[pair] = request.calls.get(pair, 0) + 1


def _span_edges(request: Request) -> None:
    span_service: dict[str, str] = {}
    with_span = [(event.span, event) for event in request.events if event.span is not None]
    for span, event in with_span:
        span_service.setdefault(span, event.service)
    linked: set[str] = set()
    for span, event in with_span:
        if span in linked:
            continue
        owner = span_service[span]
        if owner != event.service:
            # B3 "shared" spans: the caller logged this span id first.
            linked.add(span)
            _add_edge(request, owner, event.service, EdgeSource.SPAN)
        elif event.parent is not None:
            caller = span_service.get(event.parent)
            if caller is not None:
                linked.add(span)
                _add_edge(request, caller, event.service, EdgeSource.SPAN)


def _upstream_edges(request: Request) -> None:
    done: set[tuple[str, str]] = set()
    for event in request.events:
        if event.upstream is not None and (event.upstream, event.service) not in done:
            done.add((event.upstream, event.service))
            if (event.upstream, event.service) not in request.edges:
                _add_edge(request, event.upstream, event.service, EdgeSource.UPSTREAM)


def _time_order_edges(request: Request) -> None:
    """Give every service without a caller the one that logged just before it appeared."""
    has_caller = {callee for _, callee in request.edges}
    root = request.order[0] if request.order else None
    previous: str | None = None
    introduced: set[str] = set()
    for event in request.events:
        service = event.service
        if service not in introduced:
            introduced.add(service)
            if previous is not None and service != root and service not in has_caller:
                _add_edge(request, previous, service, EdgeSource.TIME_ORDER)
                has_caller.add(service)
        previous = service


def _timings(request: Request) -> None:
    """Time spent per service, and self time (own time minus time in callees)."""
    span_ms: dict[tuple[str, object], float] = {}
    for event in request.events:
        duration = event.duration_ms
        if duration is not None:
            key = (event.service, event.span if event.span is not None else id(event))
            if duration > span_ms.get(key, 0.0):
                span_ms[key] = duration
    if not span_ms:
        _gap_timings(request)
        return
    total_ms = request.total_ms
    for (service, _), value in span_ms.items():
        total_ms[service] = total_ms.get(service, 0.0) + value
    inner: dict[str, float] = {}
    for caller, callee in request.edges:
        inner[caller] = inner.get(caller, 0.0) + total_ms.get(callee, 0.0)
    for service, total in total_ms.items():
        request.self_ms[service] = max(0.0, total - inner.get(service, 0.0))


def _gap_timings(request: Request) -> None:
    """Without durations, charge the gaps between consecutive lines to services.

    A gap between two lines of one service is its own time; the gap after a
    callee's last line is the callee's (it was still answering); the gap before
    a callee's first line is shared, since a slow caller and a slow-to-accept
    callee look the same from the logs.
    """
    seen: set[str] = set()
    charged = request.self_ms
    for before, after in zip(request.events, request.events[1:], strict=False):
        seen.add(before.service)
        gap_ms = (after.ts - before.ts) / 1_000_000
        if after.service == before.service:
            charged[before.service] = charged.get(before.service, 0.0) + gap_ms
        elif after.service not in seen:
            charged[before.service] = charged.get(before.service, 0.0) + gap_ms / 2
            charged[after.service] = charged.get(after.service, 0.0) + gap_ms / 2
        else:
            charged[before.service] = charged.get(before.service, 0.0) + gap_ms
    for service in request.order:
        request.self_ms.setdefault(service, 0.0)
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for event in request.events:
        first.setdefault(event.service, event.ts)
        last[event.service] = event.ts
    for service in request.order:
        request.total_ms[service] = (last[service] - first[service]) / 1_000_000


def error_events(events: Sequence[Event]) -> list[Event]:
    """Events at error level or worse."""
    return [event for event in events if event.is_error]


def seconds(ns: int) -> float:
    """Nanoseconds as seconds."""
    return ns / NS_PER_SECOND
