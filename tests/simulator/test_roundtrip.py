"""The simulator's incident is what the analysis engine finds."""

from __future__ import annotations

from ailogs.analysis.correlation import correlate_window
from ailogs.domain import NS_PER_SECOND, LogRecord, TimeWindow, make_record
from ailogs.simulator import IncidentPlan, SimulationConfig, generate
from ailogs.simulator.sinks import push_payload

START = 1_795_600_000 * NS_PER_SECOND
SPLIT = START + 60 * NS_PER_SECOND
END = START + 120 * NS_PER_SECOND


def records_as_loki_returns_them(service: str) -> list[LogRecord]:
    """Simulate, push-encode, and decode the way ailogs reads Loki's answer."""
    plan = IncidentPlan(service=service, offset_s=60.0, length_s=60.0)
    config = SimulationConfig(start_ns=START, seed=5, duration_s=120.0, incident=plan)
    payload = push_payload(generate(config))
    records = [
        make_record(int(value[0]), value[1], stream["stream"], value[2] if len(value) > 2 else None)
        for stream in payload["streams"]
        for value in stream["values"]
    ]
    return sorted(records, key=lambda r: r.timestamp_ns)


def correlate(service: str) -> tuple[list[str], tuple[str, ...]]:
    records = records_as_loki_returns_them(service)
    current = [r for r in records if r.timestamp_ns >= SPLIT]
    baseline = [r for r in records if r.timestamp_ns < SPLIT]
    result = correlate_window(
        current,
        baseline,
        current_window=TimeWindow(SPLIT, END),
        baseline_window=TimeWindow(START, SPLIT),
    )
    return [s.service for s in result.suspects], tuple(result.propagation)


def test_the_failing_payments_dependency_is_the_first_suspect() -> None:
    suspects, propagation = correlate("payments")
    assert suspects[0] == "payments"
    assert propagation == ("payments", "orders", "api-gateway")


def test_a_failing_inventory_is_found_too() -> None:
    suspects, propagation = correlate("inventory")
    assert suspects[0] == "inventory"
    assert propagation[0] == "inventory"
    assert propagation[-1] == "api-gateway"
