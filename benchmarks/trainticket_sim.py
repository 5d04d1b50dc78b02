"""A Train-Ticket-like fault-injection log generator for root-cause benchmarks.

27 Java-style services behind `ts-ui-dashboard`, requests walking a call tree,
trace and span ids on every line, and one injected fault per scenario with a
labelled root-cause service. Faults are of four kinds:

- `exception`: the service throws; callers log HTTP 500 errors.
- `down`: the service logs nothing; callers log connection errors.
- `latency`: the service answers seconds late; some callers time out.
- `silent_error`: the service answers errors but logs nothing alarming; only its
  callers complain.

Callers name the failing callee only some of the time (a URL with its host,
"[Order Service]" style text, or nothing), upper callers name their own direct
callee, and background noise (token errors, warnings, a distracting new error
in an unrelated service) is present in both windows. Everything is seeded.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ailogs.domain import NS_PER_SECOND, LogRecord, TimeWindow, make_record

CALLS: dict[str, tuple[str, ...]] = {
    "ts-ui-dashboard": (),
    "ts-auth-service": ("ts-verification-code-service", "ts-user-service"),
    "ts-travel-service": (
        "ts-ticketinfo-service",
        "ts-seat-service",
        "ts-order-service",
        "ts-route-service",
    ),
    "ts-travel2-service": ("ts-ticketinfo-service", "ts-seat-service", "ts-order-other-service"),
    "ts-ticketinfo-service": ("ts-basic-service",),
    "ts-basic-service": (
        "ts-station-service",
        "ts-train-service",
        "ts-route-service",
        "ts-price-service",
    ),
    "ts-seat-service": ("ts-config-service", "ts-order-service"),
    "ts-preserve-service": (
        "ts-security-service",
        "ts-contacts-service",
        "ts-travel-service",
        "ts-order-service",
        "ts-assurance-service",
        "ts-food-service",
        "ts-consign-service",
        "ts-user-service",
        "ts-notification-service",
    ),
    "ts-security-service": ("ts-order-service", "ts-order-other-service"),
    "ts-food-service": ("ts-food-map-service", "ts-travel-service"),
    "ts-inside-payment-service": ("ts-order-service", "ts-payment-service"),
    "ts-cancel-service": (
        "ts-order-service",
        "ts-inside-payment-service",
        "ts-user-service",
        "ts-notification-service",
    ),
}
LEAVES = (
    "ts-verification-code-service",
    "ts-user-service",
    "ts-order-service",
    "ts-order-other-service",
    "ts-route-service",
    "ts-station-service",
    "ts-train-service",
    "ts-price-service",
    "ts-config-service",
    "ts-contacts-service",
    "ts-assurance-service",
    "ts-consign-service",
    "ts-notification-service",
    "ts-food-map-service",
    "ts-payment-service",
)
for _leaf in LEAVES:
    CALLS.setdefault(_leaf, ())
SERVICES = tuple(sorted(CALLS))
assert len(SERVICES) == 27, len(SERVICES)
ENTRY = {
    "login": "ts-auth-service",
    "search": "ts-travel-service",
    "search2": "ts-travel2-service",
    "preserve": "ts-preserve-service",
    "pay": "ts-inside-payment-service",
    "cancel": "ts-cancel-service",
    "food": "ts-food-service",
}
ENTRY_WEIGHTS = (3, 6, 3, 2, 2, 1, 1)
PORT = {service: 12000 + index for index, service in enumerate(SERVICES)}


class FaultKind(StrEnum):
    """Kinds of injected fault."""

    EXCEPTION = "exception"
    DOWN = "down"
    LATENCY = "latency"
    SILENT_ERROR = "silent_error"


@dataclass(frozen=True)
class Scenario:
    """One generated incident: records, the windows, and the labelled root cause."""

    baseline: list[LogRecord]
    current: list[LogRecord]
    baseline_window: TimeWindow
    current_window: TimeWindow
    root_cause: str
    kind: FaultKind


def _title(service: str) -> str:
    return service.removeprefix("ts-").replace("-", " ").title()


class _Generator:
    def __init__(self, seed: int, kind: FaultKind, root: str, *, parents: bool, durations: bool):
        self.rng = random.Random(seed)
        self.kind = kind
        self.root = root
        self.parents = parents
        self.durations = durations
        self.mention_p = self.rng.uniform(0.15, 0.8)
        self.affect_p = self.rng.uniform(0.5, 1.0)
        self.base_ms = {s: self.rng.lognormvariate(2.0, 0.6) for s in SERVICES}
        self.skew_ns = {s: self.rng.randint(-3, 3) * 1_000_000 for s in SERVICES}
        self.noisy = self.rng.choice([s for s in SERVICES if s != root])
        self.distractor = self.rng.choice([s for s in SERVICES if s != root])
        self.records: list[LogRecord] = []
        self.faulty = False
        self.span_counter = 0

    def _log(self, ts: int, service: str, level: str, msg: str, ctx: dict[str, Any]) -> None:
        body = {
            "ts_ns": ts,
            "level": level,
            "service": service,
            "msg": msg,
            "trace_id": ctx["trace"],
            "span_id": ctx["span"],
        }
        if self.parents and ctx.get("parent"):
            body["parent_span_id"] = ctx["parent"]
        if "duration_ms" in ctx:
            body["duration_ms"] = ctx["duration_ms"]
        stamp = ts + self.skew_ns[service]
        self.records.append(make_record(stamp, msg, {}, body=body))

    def _span(self) -> str:
        self.span_counter += 1
        return f"{self.rng.getrandbits(48):012x}{self.span_counter:04x}"

    def call(self, service: str, start: int, trace: str, parent: str | None) -> tuple[int, bool]:
        """Run one call; return (end time ns, failed)."""
        rng = self.rng
        fault_here = self.faulty and service == self.root and rng.random() < self.affect_p
        if fault_here and self.kind is FaultKind.DOWN:
            return start + rng.randint(1, 3) * 1_000_000, True
        span = self._span()
        ctx: dict[str, Any] = {"trace": trace, "span": span, "parent": parent}
        t = start + rng.randint(1, 3) * 1_000_000
        name = _title(service)
        self._log(t, service, "info", f"[{name}] handle request id={rng.randint(1, 99999)}", ctx)
        if fault_here and self.kind is FaultKind.LATENCY:
            t += rng.randint(1500, 4000) * 1_000_000
        failed = False
        for callee in CALLS[service]:
            if rng.random() < 0.25:
                continue
            t += rng.randint(1, 2) * 1_000_000
            end, callee_failed = self.call(callee, t, trace, span)
            if end - t > 3000 * 1_000_000:
                callee_failed = True
                end = t + 3000 * 1_000_000
            t = end
            if callee_failed:
                self._caller_error(t, service, callee, ctx)
                failed = True
                break
        t += int(self.base_ms[service] * rng.uniform(0.5, 1.5) * 1_000_000)
        if fault_here and self.kind is FaultKind.EXCEPTION:
            exc = rng.choice(["NullPointerException", "IllegalStateException: bad seat map"])
            self._log(
                t,
                service,
                "error",
                f"java.lang.{exc} at com.trainticket.{name.replace(' ', '')}Impl",
                ctx,
            )
            failed = True
        if fault_here and self.kind is FaultKind.SILENT_ERROR:
            failed = True
            if rng.random() < 0.3:
                self._log(
                    t, service, "info", f"[{name}] result empty for id={rng.randint(1, 999)}", ctx
                )
        if self.noisy == service and rng.random() < 0.03:
            self._log(
                t, service, "error", f"[{name}] Token expired for user {rng.randint(1, 500)}", ctx
            )
        if rng.random() < 0.01:
            self._log(
                t, service, "warning", f"[{name}] slow path taken, retry={rng.randint(1, 3)}", ctx
            )
        if self.faulty and service == self.distractor and rng.random() < 0.02:
            self._log(
                t, service, "error", f"[{name}] cache refresh failed key={rng.randint(1, 99)}", ctx
            )
        if self.durations:
            ctx["duration_ms"] = round((t - start) / 1_000_000, 3)
        self._log(
            t, service, "info", f"[{name}] request done status={'500' if failed else '200'}", ctx
        )
        return t + rng.randint(1, 3) * 1_000_000, failed

    def _caller_error(self, t: int, service: str, callee: str, ctx: dict[str, Any]) -> None:
        rng = self.rng
        name = _title(service)
        if rng.random() < self.mention_p:
            path = f"http://{callee}:{PORT[callee]}/api/v1/{callee.split('-')[1]}"
            msg = rng.choice(
                [
                    f'I/O error on POST request for "{path}": Read timed out',
                    f"HttpServerErrorException: 500 Internal Server Error for {path}",
                    f"[{name}] call {_title(callee)} failed",
                ]
            )
        else:
            msg = rng.choice(
                [
                    f"[{name}] Request processing failed; nested exception is 500 null",
                    f"[{name}] operation failed, please retry later",
                ]
            )
        self._log(t, service, "error", msg, ctx)


def generate(
    seed: int,
    kind: FaultKind | None = None,
    *,
    rate_per_s: float = 2.0,
    baseline_s: int = 600,
    incident_s: int = 300,
    parents: bool | None = None,
    durations: bool | None = None,
) -> Scenario:
    """One seeded scenario; kind, span parents and durations are drawn when not given."""
    rng = random.Random(seed * 7919 + 1)
    kind = kind or rng.choice(list(FaultKind))
    root = rng.choice([s for s in SERVICES if s != "ts-ui-dashboard"])
    gen = _Generator(
        seed,
        kind,
        root,
        parents=rng.random() < 0.5 if parents is None else parents,
        durations=rng.random() < 0.5 if durations is None else durations,
    )
    start = 1_790_000_000 * NS_PER_SECOND
    split = start + baseline_s * NS_PER_SECOND
    end = split + incident_s * NS_PER_SECOND
    t = start
    while t < end:
        gen.faulty = t >= split
        entry = ENTRY[rng.choices(list(ENTRY), weights=ENTRY_WEIGHTS)[0]]
        trace = f"{rng.getrandbits(64):016x}"
        gate = {"trace": trace, "span": gen._span(), "parent": None}
        gen._log(
            t, "ts-ui-dashboard", "info", f"GET /api/{entry} from 10.0.{rng.randint(0, 9)}.1", gate
        )
        finished, failed = gen.call(entry, t + 1_000_000, trace, gate["span"])
        if failed:
            gen._log(finished, "ts-ui-dashboard", "error", "upstream returned 500", gate)
        t += int(rng.expovariate(rate_per_s) * NS_PER_SECOND)
    records = sorted(gen.records, key=lambda r: r.timestamp_ns)
    baseline = [r for r in records if r.timestamp_ns < split]
    current = [r for r in records if r.timestamp_ns >= split]
    return Scenario(
        baseline=baseline,
        current=current,
        baseline_window=TimeWindow(start, split),
        current_window=TimeWindow(split, end + 10 * NS_PER_SECOND),
        root_cause=root,
        kind=kind,
    )
