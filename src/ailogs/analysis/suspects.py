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
from enum import StrEnum

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

    def find(self, message: str, *, exclude: str = "", hosts: bool = False) -> list[str]:
        """Services named in a message, in order of appearance, without `exclude`.

        With `hosts`, a `name:port` or URL host that is no known service counts too
        (a service that never logged, because it was down, is still named so).
        """
        found: list[str] = []
        if self._pattern is not None:
            for match in self._pattern.finditer(_squash(message[:2048])):
                service = self._by_alias[match.group(0)]
                if service != exclude and service not in found:
                    found.append(service)
        if hosts and not found:
            for match in _HOST.finditer(message[:2048]):
                host = match.group(1).lower()
                if host not in _NOT_SERVICES and host != exclude and host not in found:
                    found.append(host)
        return found


_HOST = re.compile(r"(?:://|\b)([a-zA-Z][\w-]{2,62}[a-zA-Z0-9]):\d{2,5}\b")
_NOT_SERVICES = frozenset({"localhost", "http", "https", "tcp", "udp"})


def _squash(text: str) -> str:
    return re.sub(r"[\s_.\-]+", "", text.lower())


def _aliases(service: str) -> set[str]:
    """`ts-order-service` is also written `order-service`, `Order Service`, `orderService`."""
    names = {service}
    for prefix in ("ts-", "ts_"):
        if service.startswith(prefix):
            names.add(service[len(prefix) :])
    return {alias for alias in (_squash(name) for name in names) if len(alias) >= _MIN_ALIAS}


class BlameKind(StrEnum):
    """How a request's origin was decided."""

    NAMED = "named"  # a caller's error line names the callee
    CALLEE_WORDING = "callee_wording"  # timeout / refused: the trouble is further down
    OWN = "own"  # the service failed with nothing below it failing


# Wording of errors that happen to a caller because of its callee.
_CALLEE_TROUBLE = re.compile(
    r"time[ds]?[ _-]?out|connection (?:refused|reset|closed)|i/o error|unavailable|"
    r"no route to host|unknown ?host|broken pipe|econn|upstream|\b50[234]\b|circuit",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Blame:
    """A request's origin: the service, the line that shows it, and why."""

    service: str
    event: Event
    reason: str
    kind: BlameKind = BlameKind.OWN


def request_origin(
    request: Request, mentions: ServiceMentions, *, hosts: bool = False
) -> Blame | None:
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
        named = mentions.find(candidate.message, exclude=origin, hosts=hosts)
        if named:
            reason = f"{origin} reports errors calling {named[0]}"
            return Blame(named[0], candidate, reason, BlameKind.NAMED)
    if _CALLEE_TROUBLE.search(event.message[:1024]):
        return Blame(origin, event, "failed calling a callee", BlameKind.CALLEE_WORDING)
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
    unexplained: list[tuple[Blame, Request]]
    appearances: Counter[str]
    failed: int
    requests: int
    mentions: Counter[str]
    lines: Counter[str]
    self_ms: defaultdict[str, list[float]]
    new_errors: Counter[str]
    new_lines: Counter[str]


def _signals(
    requests: Sequence[Request],
    loose: Sequence[Event],
    mentions: ServiceMentions,
    known_errors: set[tuple[str, str]] | None,
    known_lines: set[tuple[str, str]] | None = None,
) -> _Signals:
    signals = _Signals(
        votes=Counter(),
        unexplained=[],
        appearances=Counter(),
        failed=0,
        requests=len(requests),
        mentions=Counter(),
        lines=Counter(),
        self_ms=defaultdict(list),
        new_errors=Counter(),
        new_lines=Counter(),
    )
    for request in requests:
        blame = request_origin(request, mentions)
        if blame is not None:
            signals.failed += 1
            signals.votes[blame.service] += 1
            if blame.kind is not BlameKind.NAMED:
                signals.unexplained.append((blame, request))
        signals.appearances.update(request.order)
        for service, value in request.self_ms.items():
            signals.self_ms[service].append(value)
    for events in (*(r.events for r in requests), loose):
        for event in events:
            signals.lines[event.service] += 1
            if known_lines is not None or known_errors is not None:
                signature = error_signature(event.message)
                if (
                    known_lines is not None
                    and event.rank < WARNING_RANK
                    and (event.service, signature) not in known_lines
                ):
                    # Only calm lines: new error lines are as often symptoms as causes.
                    signals.new_lines[event.service] += 1
                if (
                    known_errors is not None
                    and event.is_error
                    and (event.service, signature) not in known_errors
                ):
                    signals.new_errors[event.service] += 1
            if event.rank >= WARNING_RANK:
                for named in mentions.find(event.message, exclude=event.service):
                    signals.mentions[named] += 1
    return signals


# From a digit to the end of its token is a variable: numbers, ids, durations, ports.
# (A simple pattern on purpose: this runs on every line of both windows.)
_VARIABLE = re.compile(r"\d[\w.:-]*")


def error_signature(message: str) -> str:
    """An error message with its numbers and ids masked, to tell new errors from old."""
    return _VARIABLE.sub("#", message[:120])


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
    # A request's `order` lists each of its services once: no need to visit every line.
    services = {service for r in (*current, *baseline) for service in r.order}
    services |= {e.service for e in (*current_loose, *baseline_loose)}
    mentions = ServiceMentions(services)
    base_events = [e for r in baseline for e in r.events] + list(baseline_loose)
    known_lines: set[tuple[str, str]] = set()
    known: set[tuple[str, str]] = set()
    for event in base_events:
        seen = (event.service, error_signature(event.message))
        known_lines.add(seen)
        if event.is_error:
            known.add(seen)
    now = _signals(current, current_loose, mentions, known, known_lines if base_events else None)
    before = _signals(baseline, baseline_loose, mentions, None)
    has_baseline = before.requests > 0 or bool(before.lines)
    callers: defaultdict[str, set[str]] = defaultdict(set)
    callees: defaultdict[str, set[str]] = defaultdict(set)
    for caller, callee in baseline_edges:
        callers[callee].add(caller)
        callees[caller].add(callee)
    for request in current:
        for caller, callee in request.edges:
            callees[caller].add(callee)

    parts: defaultdict[str, list[tuple[float, str]]] = defaultdict(list)
    # Evidence that a service itself changed, its error lines aside.
    change: defaultdict[str, float] = defaultdict(float)
    expected = {s: _expected_presence(s, now, before, scale, callers) for s in services}
    silence = {s: _silence(now.appearances[s], expected[s], min_samples) for s in services}
    if not now.requests:
        # Without request ids, presence is line counts.
        expected = {s: before.lines[s] * scale for s in services}
        silence = {s: _silence(now.lines[s], expected[s], min_samples) for s in services}
    for service in sorted(services):
        z_silent = silence[service]
        if z_silent > 0:
            # A crashed service also silences its own callees; credit the highest silent one.
            quiet_caller = any(silence.get(c, 0.0) > 0 for c in callers[service])
            weight = (0.3 if quiet_caller else 1.0) * _boost(z_silent)
            change[service] += weight
            parts[service].append(
                (
                    weight,
                    f"went quiet: in {now.appearances[service]} requests vs"
                    f" {expected[service]:.0f} expected from the baseline and its callers"
                    f" ({now.lines[service]} lines)",
                )
            )
        for weight, text in _latency_part(service, now, before, min_samples):
            change[service] += weight
            parts[service].append((weight, text))
        if has_baseline and now.new_lines[service] >= min_samples:
            weight = 0.5 * _boost(poisson_score(now.new_lines[service], 0.5))
            change[service] += weight
            text = f"{now.new_lines[service]} lines never seen in baseline"
            parts[service].append((weight, text))

    silent = {service for service, z in silence.items() if z > 0}
    votes = _transfer_votes(now, callees, change, silent)
    for service in sorted(services):
        if votes.get(service, 0.0) > 0:
            rate = (before.votes[service] + 0.5) / (before.requests + 1) if has_baseline else 0.01
            z = binomial_score(votes[service], max(now.requests, 1), rate)
            parts[service].append(
                (
                    1.5 * _boost(z),
                    f"origin of {votes[service]:.0f} of {now.failed} failing requests"
                    f" (baseline {before.votes[service]} of {before.requests} requests)",
                )
            )
        if now.mentions[service]:
            z = poisson_score(now.mentions[service], before.mentions[service] * scale + 0.5)
            parts[service].append(
                (
                    1.0 * _boost(z),
                    f"named in {now.mentions[service]} warning/error lines of its callers"
                    f" (baseline {before.mentions[service] * scale:.1f} expected)",
                )
            )
        if now.new_errors[service]:
            z = poisson_score(now.new_errors[service], 0.5)
            parts[service].append(
                (0.3 * _boost(z), f"{now.new_errors[service]} error lines never seen in baseline")
            )

    ranked: list[SuspectScore] = []
    for service, found in parts.items():
        score = sum(weight for weight, _ in found)
        if score > 0:
            ordered = sorted(found, key=lambda p: -p[0])
            ranked.append(SuspectScore(service, round(score, 3), tuple(t for w, t in ordered if w)))
    ranked.sort(key=lambda s: (-s.score, s.service))
    return ranked


def _transfer_votes(
    now: _Signals, callees: dict[str, set[str]], change: dict[str, float], silent: set[str]
) -> dict[str, float]:
    """Hand a caller's unexplained failures to the callee that visibly changed.

    A caller whose callee is down, slow or misbehaving is the first to log an
    error. Per failing request: a usual callee that is missing from the request
    and went quiet overall, or a callee present in it that got slower or logs new
    lines, is the better explanation (all the more when the error reads like a
    timeout or a refused connection).
    """
    votes: dict[str, float] = {service: float(count) for service, count in now.votes.items()}
    for blame, request in now.unexplained:
        caller = blame.service
        present = set(request.order)
        usual = callees.get(caller, ())
        missing = {
            c: max(change.get(c, 0.0), 0.1) for c in usual if c not in present and c in silent
        }
        called = {
            c: change.get(c, 0.0)
            for c in request.callees(caller)
            if change.get(c, 0.0) > 0 and c not in request.first_error
        }
        candidates = missing or called
        if not candidates:
            continue
        moved = 0.9 if (missing or blame.kind is BlameKind.CALLEE_WORDING) else 0.6
        total = sum(candidates.values())
        votes[caller] -= moved
        for callee, weight in candidates.items():
            votes[callee] = votes.get(callee, 0.0) + moved * weight / total
    return votes


def _expected_presence(
    service: str, now: _Signals, before: _Signals, scale: float, callers: dict[str, set[str]]
) -> float:
    """Requests a service should have appeared in: its baseline rate, scaled by its callers'.

    A callee is reached in proportion to its callers' traffic; if they served half
    the requests, half the presence is no silence.
    """
    expected = before.appearances[service] * scale
    upstream = callers.get(service, set())
    base_up = sum(before.appearances[c] for c in upstream) * scale
    if base_up >= 20:
        traffic = sum(now.appearances[c] for c in upstream) / base_up
        expected *= min(max(traffic, 0.2), 5.0)
    return expected


def _silence(observed: int, expected: float, min_samples: int) -> float:
    if expected < min_samples or observed > 0.85 * expected:
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
