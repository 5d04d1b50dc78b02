"""Deterministic traffic: requests that cross services, LLM calls, anomalies, incidents.

Pure: a seeded `random.Random` and a fixed start time fully determine the output
(no wall clock, no I/O). Each request walks a route's call tree; every hop logs
an `http.request` line with the shared `correlation_id` and `trace_id`, its own
`span_id` and its caller's `parent_span_id`; LLM hops add `ai.operation` lines.

About `anomaly_ratio` of the hops misbehave in some small way (slow, retried,
rate limited, rejected input, ...). During an incident the `IncidentPlan.service`
fails outright and every caller above it fails in turn: the cascade climbs the
call graph, with the root cause logging first.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from ailogs.domain import NS_PER_SECOND, format_timestamp
from ailogs.simulator.anomalies import hop_anomaly, llm_failure
from ailogs.simulator.topology import DEFAULT_TOPOLOGY, Call, ModelProfile, Region, Topology

NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class IncidentPlan:
    """When and where the dependency failure happens (seconds from the start)."""

    service: str = "payments"
    offset_s: float = 300.0
    length_s: float = 120.0
    every_s: float | None = None  # repeat period; None means once

    def active(self, elapsed_s: float) -> bool:
        """True while an incident is under way at `elapsed_s`."""
        if elapsed_s < self.offset_s:
            return False
        since = elapsed_s - self.offset_s
        if self.every_s:
            since %= self.every_s
        return since < self.length_s


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """What to simulate. `duration_s=None` runs forever."""

    start_ns: int
    seed: int = 42
    rate: float = 5.0  # requests per second
    duration_s: float | None = 600.0
    anomaly_ratio: float = 0.15
    incident: IncidentPlan | None = field(default_factory=IncidentPlan)

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError("rate must be positive")
        if not 0 <= self.anomaly_ratio <= 1:
            raise ValueError("anomaly_ratio must be between 0 and 1")


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One log line: its DESIGN §3 fields, plus whether it was injected as abnormal."""

    ts_ns: int
    fields: dict[str, Any]
    anomalous: bool = False

    @property
    def service(self) -> str:
        """The emitting service."""
        return str(self.fields["service"])

    @property
    def level(self) -> str:
        """The normalised level."""
        return str(self.fields["level"])

    def line(self) -> str:
        """The JSON line an application would write."""
        return orjson.dumps(self.fields).decode()


@dataclass(slots=True)
class _Outcome:
    end_ms: float
    failed: bool
    error_type: str | None = None


@dataclass(slots=True)
class _Request:
    """Per-request state shared by every hop."""

    start_ns: int
    elapsed_s: float
    region: Region
    correlation_id: str
    trace_id: str
    workspace_id: str
    conversation_id: str | None
    incident: bool
    events: list[SimEvent] = field(default_factory=list)


def generate(config: SimulationConfig, topology: Topology = DEFAULT_TOPOLOGY) -> Iterator[SimEvent]:
    """Yield events request by request; within a request, in time order."""
    return _Generator(config, topology).run()


class _Generator:
    def __init__(self, config: SimulationConfig, topology: Topology) -> None:
        self.config = config
        self.topology = topology
        self.rng = random.Random(config.seed)
        self.request_counter = 0

    def run(self) -> Iterator[SimEvent]:
        elapsed = 0.0
        duration = self.config.duration_s
        while True:
            elapsed += self.rng.expovariate(self.config.rate)
            if duration is not None and elapsed >= duration:
                return
            yield from self.request(elapsed)

    # ---- one request -----------------------------------------------------

    def request(self, elapsed_s: float) -> list[SimEvent]:
        rng = self.rng
        self.request_counter += 1
        route = rng.choices(self.topology.routes, [r.weight for r in self.topology.routes])[0]
        region = rng.choices(self.topology.regions, [r.weight for r in self.topology.regions])[0]
        workspace = rng.choice(self.topology.workspaces)
        incident = self.config.incident
        state = _Request(
            start_ns=self.config.start_ns + int(elapsed_s * NS_PER_SECOND),
            elapsed_s=elapsed_s,
            region=region,
            correlation_id=f"req-{self.hex(12)}",
            trace_id=self.hex(32),
            workspace_id=workspace,
            conversation_id=f"conv-{workspace[3:]}-{rng.randrange(40):02d}"
            if any(c.llm for c in _walk(route.root))
            else None,
            incident=incident is not None and incident.active(elapsed_s),
        )
        self.hop(state, route.root, parent_span=None, caller=None, start_ms=0.0)
        state.events.sort(key=lambda e: e.ts_ns)
        return state.events

    def hop(
        self,
        state: _Request,
        call: Call,
        parent_span: str | None,
        caller: str | None,
        start_ms: float,
    ) -> _Outcome:
        rng = self.rng
        span = self.hex(16)
        self_ms = call.base_ms * state.region.latency_factor * rng.lognormvariate(0.0, 0.3)
        cursor = start_ms + self_ms / 2
        base = self.base_fields(state, call.service, span, parent_span, caller)
        incident = self.config.incident
        if state.incident and incident is not None and call.service == incident.service:
            return self.root_cause(state, call, base, start_ms, cursor)

        failure: _Outcome | None = None
        for child in call.children:
            outcome = self.hop(state, child, span, call.service, cursor + rng.uniform(0.2, 1.5))
            cursor = outcome.end_ms + rng.uniform(0.2, 1.0)
            if outcome.failed:
                failure = outcome
                break  # a failed dependency short-circuits the rest of the handler
        if failure is None and call.llm is not None:
            llm = self.llm_call(state, call, base, span, cursor)
            cursor = llm.end_ms
            failure = llm if llm.failed else None
        end_ms = cursor + self_ms / 2
        anomaly = None if failure else hop_anomaly(rng, self.config.anomaly_ratio)
        if anomaly is not None:
            end_ms += anomaly.get("extra_ms", 0.0)
        self.emit_hop(state, call, base, start_ms, end_ms, failure, anomaly)
        return _Outcome(end_ms, failure is not None, failure.error_type if failure else None)

    # ---- line builders ---------------------------------------------------

    def base_fields(
        self, state: _Request, service: str, span: str, parent: str | None, caller: str | None
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "service": service,
            "correlation_id": state.correlation_id,
            "trace_id": state.trace_id,
            "span_id": span,
            "workspace_id": state.workspace_id,
            "region": state.region.name,
        }
        if parent is not None:
            fields["parent_span_id"] = parent
        if caller is not None:
            fields["upstream_service"] = caller
        if state.conversation_id is not None:
            fields["conversation_id"] = state.conversation_id
        return fields

    def add(
        self,
        state: _Request,
        at_ms: float,
        level: str,
        msg: str,
        event: str,
        fields: dict[str, Any],
        *,
        anomalous: bool,
    ) -> None:
        ts_ns = state.start_ns + int(at_ms * NS_PER_MS)
        line = {"ts": format_timestamp(ts_ns), "level": level, "service": fields["service"]}
        line |= {"msg": msg, "event": event}
        line |= {k: v for k, v in fields.items() if k != "service"}
        state.events.append(SimEvent(ts_ns, line, anomalous))

    def emit_hop(
        self,
        state: _Request,
        call: Call,
        base: dict[str, Any],
        start_ms: float,
        end_ms: float,
        failure: _Outcome | None,
        anomaly: dict[str, Any] | None,
    ) -> None:
        duration = round(end_ms - start_ms, 3)
        fields = base | {"endpoint": call.endpoint, "duration_ms": duration}
        if failure is not None:
            status = 429 if failure.error_type == "RateLimitError" else 502
            fields |= {"http_status": status, "status": "error", "error_type": "UpstreamError"}
            msg = (
                f"{call.endpoint} failed: dependency error ({failure.error_type}), "
                f"returning {status} bad gateway after {duration:.0f} ms"
            )
            self.add(state, end_ms, "error", msg, "http.request", fields, anomalous=True)
            return
        if anomaly is not None:
            fields |= anomaly["fields"]
            msg = str(anomaly["msg"]).format(endpoint=call.endpoint, ms=duration)
            level = str(anomaly["level"])
            self.add(state, end_ms, level, msg, "http.request", fields, anomalous=True)
            return
        fields |= {"http_status": 200, "status": "ok"}
        msg = f"{call.endpoint} 200 in {duration:.0f} ms"
        self.add(state, end_ms, "info", msg, "http.request", fields, anomalous=False)

    def root_cause(
        self, state: _Request, call: Call, base: dict[str, Any], start_ms: float, cursor: float
    ) -> _Outcome:
        """The incident service: its database refuses connections, or it times out."""
        rng = self.rng
        if rng.random() < 0.6:
            error_type, wait_ms = "ConnectionRefused", rng.uniform(2.0, 15.0)
            msg = f"{call.endpoint} failed: connection refused to {call.service}-db:5432"
        else:
            error_type, wait_ms = "Timeout", rng.uniform(2500.0, 3500.0)
            msg = f"{call.endpoint} failed: upstream request timed out after 3000 ms"
        end_ms = cursor + wait_ms
        fields = base | {
            "endpoint": call.endpoint,
            "duration_ms": round(end_ms - start_ms, 3),
            "http_status": 503,
            "status": "error",
            "error_type": error_type,
        }
        self.add(state, end_ms, "error", msg, "http.request", fields, anomalous=True)
        return _Outcome(end_ms, True, error_type)

    def llm_call(
        self, state: _Request, call: Call, base: dict[str, Any], span: str, at_ms: float
    ) -> _Outcome:
        """One `ai.operation` line; rate limits and timeouts fail the hop."""
        rng = self.rng
        embeddings = call.llm == "embeddings"
        model = (
            self.topology.embedding_model
            if embeddings
            else rng.choices(self.topology.models, [m.weight for m in self.topology.models])[0]
        )
        input_tokens = rng.randint(*model.input_tokens)
        output_tokens = 0 if embeddings else rng.randint(*model.output_tokens)
        ttft = None if embeddings else model.ttft_ms * state.region.latency_factor
        duration = self.llm_duration(model, output_tokens, state.region, embeddings)
        status, error_type, level = "ok", None, "info"
        outcome_text = "ok"
        if rng.random() < self.config.anomaly_ratio * 0.4:
            error_type, level, status, text, duration = llm_failure(model, duration, rng)
            outcome_text = text
            output_tokens = 0
        fields = base | {
            "span_id": self.hex(16),
            "parent_span_id": span,
            "operation": call.llm,
            "provider": model.provider,
            "model": model.name,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "tokens_used": input_tokens + output_tokens,
            "duration_ms": round(duration, 3),
            "status": status,
        }
        if ttft is not None and status == "ok":
            fields["ttft_ms"] = round(ttft * rng.lognormvariate(0.0, 0.2), 3)
        if error_type is not None:
            fields["error_type"] = error_type
        msg = f"{call.llm} {model.name} {outcome_text} in {duration:.0f} ms"
        end = at_ms + duration
        self.add(state, end, level, msg, "ai.operation", fields, anomalous=error_type is not None)
        failed = error_type in {"RateLimitError", "APITimeoutError"}
        return _Outcome(end, failed, error_type)

    @staticmethod
    def llm_duration(
        model: ModelProfile, output_tokens: int, region: Region, embeddings: bool
    ) -> float:
        if embeddings:
            return 35.0 * region.latency_factor
        return (model.ttft_ms + model.ms_per_output_token * output_tokens) * region.latency_factor

    def hex(self, digits: int) -> str:
        """Random lowercase hex of `digits` characters, from the seeded generator."""
        return f"{self.rng.getrandbits(digits * 4):0{digits}x}"


def _walk(call: Call) -> Iterator[Call]:
    yield call
    for child in call.children:
        yield from _walk(child)
