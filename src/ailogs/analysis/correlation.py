"""The correlator: a caller → callee service graph, the failure's origin and its path.

`correlate_request` answers for the records of one correlation id;
`correlate_window` for a whole window weighed against a baseline window. Both
return a frozen `Correlation` whose `to_dict()` is the `/correlate` shape of
DESIGN.md §4. NetworkX stays inside `graph`; callers only see these objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ailogs.analysis.graph import GraphFacts, analyse_graph
from ailogs.analysis.mermaid import render_mermaid
from ailogs.analysis.suspects import ServiceMentions, SuspectScore, rank_suspects, request_origin
from ailogs.analysis.traces import Event, Request, build_request, group_requests
from ailogs.domain import LogRecord, TimeWindow, format_timestamp


@dataclass(frozen=True, slots=True)
class ServiceNode:
    """A service in the graph: how much it logged, how often it failed, how slow it was."""

    service: str
    events: int
    errors: int
    p95_ms: float | None

    def to_dict(self) -> dict[str, Any]:
        """The node shape of `/correlate`."""
        return {
            "service": self.service,
            "events": self.events,
            "errors": self.errors,
            "p95_ms": self.p95_ms,
        }


@dataclass(frozen=True, slots=True)
class ServiceEdge:
    """Calls from a caller to a callee; `errors` counts calls in which the callee failed."""

    source: str
    target: str
    calls: int
    errors: int

    def to_dict(self) -> dict[str, Any]:
        """The edge shape of `/correlate`."""
        return {
            "source": self.source,
            "target": self.target,
            "calls": self.calls,
            "errors": self.errors,
        }


@dataclass(frozen=True, slots=True)
class Origin:
    """Where the failure started: the service, when, and the line that shows it."""

    service: str
    timestamp_ns: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        """The origin shape of `/correlate`."""
        return {
            "service": self.service,
            "timestamp": format_timestamp(self.timestamp_ns),
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class Suspect:
    """A candidate root-cause service with the evidence behind its score."""

    service: str
    score: float
    evidence: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The suspect shape of `/correlate`."""
        return {"service": self.service, "score": self.score, "evidence": list(self.evidence)}


@dataclass(frozen=True, slots=True)
class Bottleneck:
    """A service's share of the time spent in the requests."""

    service: str
    self_ms: float
    share: float

    def to_dict(self) -> dict[str, Any]:
        """`{"service","self_ms","share"}`, share in [0, 1]."""
        return {"service": self.service, "self_ms": self.self_ms, "share": self.share}


@dataclass(frozen=True, slots=True)
class Correlation:
    """The answer of the correlator."""

    correlation_id: str | None
    nodes: tuple[ServiceNode, ...]
    edges: tuple[ServiceEdge, ...]
    origin: Origin | None
    propagation: tuple[str, ...]
    suspects: tuple[Suspect, ...]
    bottlenecks: tuple[Bottleneck, ...]
    critical_path: tuple[str, ...]
    recommendations: tuple[str, ...]
    mermaid: str

    def to_dict(self) -> dict[str, Any]:
        """Exactly the `/correlate` shape of DESIGN.md §4."""
        return {
            "correlation_id": self.correlation_id,
            "graph": {
                "nodes": [node.to_dict() for node in self.nodes],
                "edges": [edge.to_dict() for edge in self.edges],
            },
            "origin": self.origin.to_dict() if self.origin else None,
            "propagation": list(self.propagation),
            "suspects": [suspect.to_dict() for suspect in self.suspects],
            "bottlenecks": [b.to_dict() for b in self.bottlenecks],
            "critical_path": list(self.critical_path),
            "recommendations": list(self.recommendations),
            "mermaid": self.mermaid,
        }


class PatternDefLike(Protocol):
    """The part of `patterns.PatternDef` the recommendations read."""

    @property
    def id(self) -> str: ...

    @property
    def recommendation(self) -> str: ...


class PatternLookup(Protocol):
    """The part of `patterns.PatternLibrary` the correlator needs."""

    def match_line(self, line: str) -> tuple[str, ...]: ...

    def get(self, pattern_id: str) -> PatternDefLike | None: ...


def correlate_request(
    records: Sequence[LogRecord],
    *,
    correlation_id: str | None = None,
    library: PatternLookup | None = None,
) -> Correlation:
    """Correlate the records of one request (one correlation id or trace)."""
    requests, loose = group_requests(records)
    # One correlation id may span several traces; analyse it as one request.
    merged = [e for request in requests for e in request.events] + loose
    request = build_request(correlation_id or "request", merged)
    mentions = ServiceMentions(request.order)
    blame = request_origin(request, mentions, hosts=True)
    suspects: list[SuspectScore] = []
    if blame is not None:
        suspects.append(SuspectScore(blame.service, 1.0, (blame.reason,)))
        for service, event in sorted(request.first_error.items(), key=lambda kv: kv[1].ts):
            if service != blame.service:
                suspects.append(
                    SuspectScore(service, 0.5, (f"failed later: {event.message[:160]}",))
                )
    return _assemble(correlation_id, [request], suspects, blame_event(blame), library)


def blame_event(blame: Any) -> tuple[str, Event] | None:
    """The (service, event) of a blame, or None."""
    return None if blame is None else (blame.service, blame.event)


def correlate_window(
    current: Sequence[LogRecord],
    baseline: Sequence[LogRecord] = (),
    *,
    current_window: TimeWindow | None = None,
    baseline_window: TimeWindow | None = None,
    library: PatternLookup | None = None,
    min_samples: int = 5,
) -> Correlation:
    """Correlate a whole window: the service graph of every request and ranked suspects."""
    now, now_loose = group_requests(current)
    before, before_loose = group_requests(baseline)
    scale = 1.0
    if current_window is not None and baseline_window is not None:
        scale = current_window.duration_s / baseline_window.duration_s
    baseline_edges = {edge for request in before for edge in request.edges}
    ranked = rank_suspects(
        now,
        before,
        current_loose=now_loose,
        baseline_loose=before_loose,
        scale=scale,
        baseline_edges=baseline_edges,
        min_samples=min_samples,
    )
    origin = _first_event_of(ranked[0].service, now, now_loose) if ranked else None
    return _assemble(None, now, ranked, origin, library, loose=now_loose)


def _first_event_of(
    service: str, requests: Sequence[Request], loose: Sequence[Event]
) -> tuple[str, Event] | None:
    """The first error line of the suspect, or failing that the first line naming it."""
    mentions = ServiceMentions([service])
    best: Event | None = None
    for events in (*(r.events for r in requests), loose):
        for event in events:
            if not event.is_error or (best is not None and event.ts >= best.ts):
                continue
            if event.service == service or mentions.find(event.message):
                best = event
    return None if best is None else (service, best)


def _assemble(
    correlation_id: str | None,
    requests: Sequence[Request],
    ranked: Sequence[SuspectScore],
    origin: tuple[str, Event] | None,
    library: PatternLookup | None,
    *,
    loose: Sequence[Event] = (),
) -> Correlation:
    facts: GraphFacts = analyse_graph(requests, loose, origin[0] if origin else None)
    origin_obj = None
    if origin is not None:
        service, event = origin
        origin_obj = Origin(service, event.ts, event.message[:500])
    recommendations = _recommendations(facts, origin, library)
    nodes = tuple(ServiceNode(n.service, n.events, n.errors, n.p95_ms) for n in facts.nodes)
    edges = tuple(ServiceEdge(e.source, e.target, e.calls, e.errors) for e in facts.edges)
    return Correlation(
        correlation_id=correlation_id,
        nodes=nodes,
        edges=edges,
        origin=origin_obj,
        propagation=facts.propagation,
        suspects=tuple(Suspect(s.service, s.score, s.evidence) for s in ranked),
        bottlenecks=tuple(Bottleneck(b[0], b[1], b[2]) for b in facts.bottlenecks),
        critical_path=facts.critical_path,
        recommendations=recommendations,
        mermaid=render_mermaid(facts, origin[0] if origin else None),
    )


def _recommendations(
    facts: GraphFacts, origin: tuple[str, Event] | None, library: PatternLookup | None
) -> tuple[str, ...]:
    advice: list[str] = []
    if origin is not None and library is not None:
        service, event = origin
        seen: set[str] = set()
        for message in (event.line or event.message, *facts.error_messages.get(service, ())):
            for pattern_id in library.match_line(message):
                definition = library.get(pattern_id)
                if pattern_id not in seen and definition is not None:
                    seen.add(pattern_id)
                    advice.append(f"{service} ({pattern_id}): {definition.recommendation}")
    if origin is not None:
        service = origin[0]
        callers = facts.fan_in.get(service, 0)
        if callers > 1:
            advice.append(
                f"{service} is called by {callers} services: add timeouts and circuit breakers"
                " in its callers so its failure does not cascade"
            )
        if len(facts.propagation) > 2:
            path = " -> ".join(facts.propagation)
            advice.append(
                f"The failure crossed {len(facts.propagation)} services ({path});"
                " fail fast at the first caller instead of retrying at every hop"
            )
    if facts.bottlenecks and facts.bottlenecks[0][2] >= 0.5:
        name, self_ms, share = facts.bottlenecks[0]
        advice.append(
            f"{name} accounts for {share:.0%} of the time spent in these requests"
            f" ({self_ms / 1000:.0f} s of its own time): profile it first"
        )
    for service, fan_out in sorted(facts.fan_out.items()):
        if fan_out >= 5:
            advice.append(f"{service} calls {fan_out} services: a slow callee stalls it")
    return tuple(advice)
