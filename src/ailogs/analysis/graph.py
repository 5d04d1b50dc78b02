"""The NetworkX service graph and the facts read off it.

Requests (see `traces`) are merged into one directed graph, caller → callee.
Nothing NetworkX leaves this module: `analyse_graph` returns plain tuples.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import networkx as nx

from ailogs.analysis.scoring import quantile
from ailogs.analysis.suspects import ServiceMentions
from ailogs.analysis.traces import Event, Request

_MAX_BOTTLENECKS = 5
_MIN_SHARE = 0.05


@dataclass(frozen=True, slots=True)
class NodeFact:
    """Per-service totals."""

    service: str
    events: int
    errors: int
    p95_ms: float | None


@dataclass(frozen=True, slots=True)
class EdgeFact:
    """Per caller → callee totals."""

    source: str
    target: str
    calls: int
    errors: int


@dataclass(frozen=True, slots=True)
class GraphFacts:
    """Everything the correlator reports about the graph."""

    nodes: tuple[NodeFact, ...]
    edges: tuple[EdgeFact, ...]
    propagation: tuple[str, ...]
    bottlenecks: tuple[tuple[str, float, float], ...]
    critical_path: tuple[str, ...]
    fan_in: dict[str, int] = field(default_factory=dict)
    fan_out: dict[str, int] = field(default_factory=dict)
    error_messages: dict[str, tuple[str, ...]] = field(default_factory=dict)
    erroring: frozenset[str] = frozenset()


def analyse_graph(
    requests: Sequence[Request], loose: Sequence[Event], origin: str | None
) -> GraphFacts:
    """Build the graph of these requests and read its facts, with `origin` as failure origin."""
    graph = nx.DiGraph()
    events: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    durations: defaultdict[str, list[float]] = defaultdict(list)
    messages: defaultdict[str, list[str]] = defaultdict(list)
    self_ms: defaultdict[str, float] = defaultdict(float)
    for batch in (*(r.events for r in requests), loose):
        for event in batch:
            events[event.service] += 1
            if event.duration_ms is not None:
                durations[event.service].append(event.duration_ms)
            if event.is_error:
                errors[event.service] += 1
                kept = messages[event.service]
                if len(kept) < 5 and event.message not in kept:
                    kept.append(event.message)
    for service in sorted(events):
        graph.add_node(service)
    for request in requests:
        for (caller, callee), calls in request.calls.items():
            if not graph.has_edge(caller, callee):
                graph.add_edge(caller, callee, calls=0, errors=0)
            data = graph[caller][callee]
            data["calls"] += calls
            if callee in request.first_error:
                data["errors"] += 1
        for service, value in request.self_ms.items():
            self_ms[service] += value
    if origin is not None and origin not in graph:
        _attach_silent_origin(graph, origin, messages)
    nodes = tuple(
        NodeFact(
            service,
            events[service],
            errors[service],
            round(quantile(durations[service], 0.95), 3) if durations[service] else None,
        )
        for service in sorted(graph.nodes)
    )
    edges = tuple(
        EdgeFact(source, target, int(data["calls"]), int(data["errors"]))
        for source, target, data in sorted(graph.edges(data=True))
    )
    return GraphFacts(
        nodes=nodes,
        edges=edges,
        propagation=_propagation(graph, origin, errors),
        bottlenecks=_bottlenecks(self_ms),
        critical_path=_critical_path(graph, self_ms, events),
        fan_in={s: int(graph.in_degree(s)) for s in graph.nodes},
        fan_out={s: int(graph.out_degree(s)) for s in graph.nodes},
        error_messages={s: tuple(m) for s, m in messages.items()},
        erroring=frozenset(s for s in graph.nodes if errors[s]),
    )


def _attach_silent_origin(graph: nx.DiGraph, origin: str, messages: dict[str, list[str]]) -> None:
    """A service that logged nothing (it was down) still belongs in the picture."""
    graph.add_node(origin)
    mentions = ServiceMentions([origin])
    for service, texts in messages.items():
        if service != origin and any(mentions.find(text) for text in texts):
            graph.add_edge(service, origin, calls=0, errors=len(texts))


def _propagation(graph: nx.DiGraph, origin: str | None, errors: Counter[str]) -> tuple[str, ...]:
    """From the origin up through its callers to the outermost one, preferring failing callers."""
    if origin is None or origin not in graph:
        return ()
    path = [origin]
    seen = {origin}
    current = origin
    while True:
        callers = [c for c in graph.predecessors(current) if c not in seen]
        if not callers:
            break
        callee = current
        current = max(
            callers,
            key=lambda c: (graph[c][callee]["errors"], errors[c], graph[c][callee]["calls"], c),
        )
        seen.add(current)
        path.append(current)
    return tuple(path)


def _bottlenecks(self_ms: dict[str, float]) -> tuple[tuple[str, float, float], ...]:
    total = sum(self_ms.values())
    if total <= 0:
        return ()
    ranked = sorted(self_ms.items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(
        (service, round(value, 3), round(value / total, 4))
        for service, value in ranked[:_MAX_BOTTLENECKS]
        if value / total >= _MIN_SHARE
    )


def _critical_path(
    graph: nx.DiGraph, self_ms: dict[str, float], events: Counter[str]
) -> tuple[str, ...]:
    """The heaviest chain of calls from the root, weighing each service by its self time."""
    if graph.number_of_nodes() == 0:
        return ()
    roots = [n for n in graph.nodes if graph.in_degree(n) == 0] or list(graph.nodes)
    root = max(roots, key=lambda n: (events[n], str(n)))
    # Drop edges that close a cycle so the longest path is well defined.
    dag = nx.DiGraph()
    dag.add_nodes_from(graph.nodes)
    dag.add_edges_from(nx.dfs_edges(graph, root))
    for source, target in graph.edges:
        if source in dag and target in dag and not nx.has_path(dag, target, source):
            dag.add_edge(source, target)
    best: dict[str, tuple[float, tuple[str, ...]]] = {}
    for node in reversed(list(nx.topological_sort(dag))):
        weight = float(self_ms.get(node, 0.0))
        tails = [best[child] for child in dag.successors(node)]
        tail = max(tails, key=lambda t: (t[0], t[1])) if tails else (0.0, ())
        best[node] = (weight + tail[0], (node, *tail[1]))
    return best[root][1]
