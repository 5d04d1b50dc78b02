"""Root-cause suspects: which service most likely started the trouble.

Errors pile up in callers, so counting error lines blames the wrong service.
Instead each failing request votes for its own origin (the deepest service that
failed first, or the callee its callers name in their error lines), and the
votes are weighed against the baseline window together with three signals that
need no error at all: calls that got slower inside a service, callers that
report errors about it, and a service that fell silent.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ailogs.analysis.scoring import binomial_score, exceedance_score, poisson_score, quantile
from ailogs.analysis.traces import WARNING_RANK, Event, Request

# Shortest alias worth matching: "api" inside any word would blame it for everything.
_MIN_ALIAS = 5
# Callee failures show up in the caller a little later; allow clock skew between hosts.
SKEW_NS = 50_000_000


class ServiceMentions:
    """Finds the services an error line talks about ("call to ts-order-service failed")."""

    def __init__(self, services: Iterable[str]) -> None:
        self._by_alias: dict[str, str] = {}
        for service in sorted(set(services)):
            for alias in _aliases(service):
                self._by_alias.setdefault(alias, service)
        aliases = sorted(self._by_alias, key=lambda a: (-len(a), a))
        self._pattern = (
            re.compile("|".join(re.escape(alias) for alias in aliases)) if aliases else None
        )

    def find(self, message: str, *, exclude: str = "") -> list[str]:
        """Services named in a message, in order of appearance, without `exclude`."""
        if self._pattern is None:
            return []
        found: list[str] = []
        for match in self._pattern.finditer(_squash(message[:2048])):
            service = self._by_alias[match.group(0)]
            if service != exclude and service not in found:
                found.append(service)
        return found


def _squash(text: str) -> str:
    return re.sub(r"[\s_.\-]+", "", text.lower())


def _aliases(service: str) -> set[str]:
    """`ts-order-service` is also written `order-service`, `Order Service`, `orderService`."""
    names = {service}
    for prefix in ("ts-", "ts_"):
        if service.startswith(prefix):
            names.add(service[len(prefix) :])
    return {alias for alias in (_squash(name) for name in names) if len(alias) >= _MIN_ALIAS}


@dataclass(frozen=True, slots=True)
class Blame:
    """A request's origin: the service, the line that shows it, and why."""

    service: str
    event: Event
    reason: str


def request_origin(request: Request, mentions: ServiceMentions) -> Blame | None:
    """The origin of a failed request, or None when nothing in it failed.

    The earliest erroring service whose own callees did not fail first; when its
    error line names another service (a callee that timed out or is down), that
    callee is the origin.
    """
    if not request.first_error:
        return None
    failed = request.first_error
    candidates = []
    for service, event in failed.items():
        below = request.descendants(service)
        if not any(failed[d].ts <= event.ts + SKEW_NS for d in below if d in failed):
            candidates.append((event.ts, -request.order.index(service), service))
    if not candidates:
        candidates = [(event.ts, 0, service) for service, event in failed.items()]
    _, _, origin = min(candidates)
    event = failed[origin]
    for candidate in _error_lines(request, origin):
        named = mentions.find(candidate.message, exclude=origin)
        if named:
            return Blame(named[0], candidate, f"{origin} reports errors calling {named[0]}")
    return Blame(origin, event, "first service to fail with no failing callee")


def _error_lines(request: Request, service: str) -> Iterable[Event]:
    return (e for e in request.events if e.service == service and e.is_error)


@dataclass(frozen=True, slots=True)
class SuspectScore:
    """A ranked suspect with the reasons behind its score."""

    service: str
    score: float
    evidence: tuple[str, ...]


@dataclass(slots=True)
class _Signals:
    votes: Counter[str]
    failed: int
    requests: int
    mentions: Counter[str]
    lines: Counter[str]
    self_ms: defaultdict[str, list[float]]
    new_errors: Counter[str]


def _signals(
    requests: Sequence[Request],
    loose: Sequence[Event],
    mentions: ServiceMentions,
    known_errors: set[tuple[str, str]] | None,
) -> _Signals:
    signals = _Signals(
        Counter(), 0, len(requests), Counter(), Counter(), defaultdict(list), Counter()
    )
    for request in requests:
        blame = request_origin(request, mentions)
        if blame is not None:
            signals.failed += 1
            signals.votes[blame.service] += 1
        for service, value in request.self_ms.items():
            signals.self_ms[service].append(value)
    for events in (*(r.events for r in requests), loose):
        for event in events:
            signals.lines[event.service] += 1
            if event.rank < WARNING_RANK:
                continue
            for named in mentions.find(event.message, exclude=event.service):
                signals.mentions[named] += 1
            if known_errors is not None and event.is_error:
                if (event.service, error_signature(event.message)) not in known_errors:
                    signals.new_errors[event.service] += 1
    return signals


_VARIABLE = re.compile(r"0x[0-9a-f]+|[0-9a-f]{8,}|\d+", re.IGNORECASE)


def error_signature(message: str) -> str:
    """An error message with its numbers and ids masked, to tell new errors from old."""
    return _VARIABLE.sub("#", message[:160])


def known_error_signatures(events: Iterable[Event]) -> set[tuple[str, str]]:
    """(service, signature) of every error in the baseline."""
    return {(e.service, error_signature(e.message)) for e in events if e.is_error}


def _boost(z: float) -> float:
    """A z-like score turned into evidence weight: nothing below 2, slow growth above."""
    return math.log1p(max(0.0, z - 2.0))


def rank_suspects(
    current: Sequence[Request],
    baseline: Sequence[Request],
    *,
    current_loose: Sequence[Event] = (),
    baseline_loose: Sequence[Event] = (),
    scale: float = 1.0,
    baseline_edges: Iterable[tuple[str, str]] = (),
    min_samples: int = 5,
) -> list[SuspectScore]:
    """Rank services by how likely they are the root cause, best first.

    `scale` is the current window's length over the baseline's, so counts of
    different windows compare as rates.
    """
    services = {e.service for r in (*current, *baseline) for e in r.events}
    services |= {e.service for e in (*current_loose, *baseline_loose)}
    mentions = ServiceMentions(services)
    base_events = [e for r in baseline for e in r.events] + list(baseline_loose)
    known = known_error_signatures(base_events)
    now = _signals(current, current_loose, mentions, known)
    before = _signals(baseline, baseline_loose, mentions, None)
    has_baseline = before.requests > 0 or bool(before.lines)
    callers: defaultdict[str, set[str]] = defaultdict(set)
    for caller, callee in baseline_edges:
        callers[callee].add(caller)
    silence = {s: _silence(now.lines[s], before.lines[s] * scale, min_samples) for s in services}

    ranked: list[SuspectScore] = []
    for service in sorted(services):
        parts: list[tuple[float, str]] = []
        if now.votes[service]:
            rate = (before.votes[service] + 0.5) / (before.requests + 1) if has_baseline else 0.01
            z = binomial_score(now.votes[service], max(now.requests, 1), rate)
            parts.append(
                (
                    1.5 * _boost(z),
                    f"origin of {now.votes[service]} of {now.failed} failing requests"
                    f" (baseline {before.votes[service]} of {before.requests} requests)",
                )
            )
        if now.mentions[service]:
            expected = before.mentions[service] * scale + 0.5
            z = poisson_score(now.mentions[service], expected)
            parts.append(
                (
                    1.0 * _boost(z),
                    f"named in {now.mentions[service]} warning/error lines of its callers"
                    f" (baseline {before.mentions[service] * scale:.1f} expected)",
                )
            )
        z_silent = silence[service]
        if z_silent > 0:
            # A crashed service also silences its own callees; credit the highest silent one.
            quiet_caller = any(silence.get(c, 0.0) > 0 for c in callers[service])
            weight = 0.3 if quiet_caller else 1.0
            parts.append(
                (
                    weight * _boost(z_silent),
                    f"went quiet: {now.lines[service]} lines vs"
                    f" {before.lines[service] * scale:.0f} expected from the baseline",
                )
            )
        parts.extend(_latency_part(service, now, before, min_samples))
        if now.new_errors[service]:
            z = poisson_score(now.new_errors[service], 0.5)
            parts.append(
                (0.3 * _boost(z), f"{now.new_errors[service]} error lines never seen in baseline")
            )
        score = sum(weight for weight, _ in parts)
        if score > 0:
            evidence = tuple(text for weight, text in sorted(parts, key=lambda p: -p[0]) if weight)
            ranked.append(SuspectScore(service, round(score, 3), evidence))
    ranked.sort(key=lambda s: (-s.score, s.service))
    return ranked


def _silence(observed: int, expected: float, min_samples: int) -> float:
    if expected < min_samples or observed * 2 > expected:
        return 0.0
    return -poisson_score(observed, expected)


def _latency_part(
    service: str, now: _Signals, before: _Signals, min_samples: int
) -> list[tuple[float, str]]:
    cur = now.self_ms.get(service, [])
    old = before.self_ms.get(service, [])
    if len(cur) < min_samples or len(old) < min_samples:
        return []
    p95_old = quantile(old, 0.95)
    p95_new = quantile(cur, 0.95)
    if p95_new < 1.5 * p95_old + 1.0:
        return []
    z = exceedance_score(cur, p95_old)
    return [
        (
            1.0 * _boost(z),
            f"time spent inside it rose: p95 {p95_new:.0f} ms vs {p95_old:.0f} ms in baseline",
        )
    ]
