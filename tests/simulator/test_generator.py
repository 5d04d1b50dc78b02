"""The simulator produces realistic, deterministic DESIGN §3 traffic."""

from __future__ import annotations

from collections import Counter, defaultdict

import orjson
import pytest

from ailogs.domain import NS_PER_SECOND
from ailogs.simulator import IncidentPlan, SimEvent, SimulationConfig, generate

START = 1_795_600_000 * NS_PER_SECOND  # a fixed start keeps runs comparable
LEVELS = {"debug", "info", "warning", "error", "critical"}


INCIDENT = IncidentPlan(offset_s=60.0, length_s=60.0)


def run(
    *, seed: int = 3, anomaly_ratio: float = 0.15, incident: IncidentPlan | None = INCIDENT
) -> list[SimEvent]:
    config = SimulationConfig(
        start_ns=START,
        seed=seed,
        rate=5.0,
        duration_s=120.0,
        anomaly_ratio=anomaly_ratio,
        incident=incident,
    )
    return list(generate(config))


@pytest.fixture(scope="module")
def events() -> list[SimEvent]:
    return run()


def test_the_same_seed_and_start_give_the_same_lines() -> None:
    assert [e.line() for e in run()] == [e.line() for e in run()]
    assert [e.line() for e in run(seed=4)] != [e.line() for e in run()]


def test_every_line_is_a_flat_design_object(events: list[SimEvent]) -> None:
    for event in events[:500]:
        line = orjson.loads(event.line())
        assert list(line)[:5] == ["ts", "level", "service", "msg", "event"]
        assert line["level"] in LEVELS
        assert line["event"] in {"http.request", "ai.operation"}
        assert all(not isinstance(value, dict | list) for value in line.values())
        assert line["ts"].endswith("Z")


def test_several_services_share_correlation_and_trace_ids(events: list[SimEvent]) -> None:
    services = {e.service for e in events}
    assert {"api-gateway", "orders", "payments", "inventory", "llm-proxy", "auth"} <= services
    by_request: dict[str, list[SimEvent]] = defaultdict(list)
    for event in events:
        by_request[event.fields["correlation_id"]].append(event)
    for lines in by_request.values():
        assert len({e.fields["trace_id"] for e in lines}) == 1
        spans = {e.fields["span_id"] for e in lines}
        roots = [e for e in lines if "parent_span_id" not in e.fields]
        assert len(roots) == 1
        assert roots[0].service == "api-gateway"
        assert all(e.fields["parent_span_id"] in spans for e in lines if e is not roots[0])


def test_llm_calls_carry_model_tokens_latency_and_conversation(events: list[SimEvent]) -> None:
    operations = [e.fields for e in events if e.fields["event"] == "ai.operation"]
    assert operations
    models = Counter(op["model"] for op in operations if op["operation"] == "chat")
    assert len(models) >= 3
    for op in operations:
        assert op["provider"]
        assert op["input_tokens"] > 0
        assert op["duration_ms"] > 0
        assert op["conversation_id"].startswith("conv-")
        assert op["workspace_id"].startswith("ws-")
        assert op["status"] in {"ok", "error"}
        assert (op["status"] == "error") == ("error_type" in op)


def test_about_fifteen_percent_of_baseline_lines_are_anomalous(events: list[SimEvent]) -> None:
    baseline = [e for e in events if e.ts_ns < START + 60 * NS_PER_SECOND]
    share = sum(e.anomalous for e in baseline) / len(baseline)
    assert 0.10 <= share <= 0.20
    assert run(anomaly_ratio=0.0, incident=None)[0].anomalous is False
    assert not any(e.anomalous for e in run(anomaly_ratio=0.0, incident=None))


def test_the_incident_fails_its_service_first_and_climbs_the_call_graph(
    events: list[SimEvent],
) -> None:
    incident = [e for e in events if e.ts_ns >= START + 60 * NS_PER_SECOND]
    baseline = [e for e in events if e.ts_ns < START + 60 * NS_PER_SECOND]
    assert not any(e.service == "payments" and e.level == "error" for e in baseline)
    failed_requests = {
        e.fields["correlation_id"]
        for e in incident
        if e.service == "payments" and e.level == "error"
    }
    assert len(failed_requests) > 20
    for correlation_id in list(failed_requests)[:20]:
        chain = [
            e.service
            for e in incident
            if e.fields["correlation_id"] == correlation_id and e.level == "error"
        ]
        assert chain == ["payments", "orders", "api-gateway"]


def test_regions_shape_latency(events: list[SimEvent]) -> None:
    totals: dict[str, list[float]] = defaultdict(list)
    for event in events:
        if event.service == "inventory" and not event.anomalous:
            totals[event.fields["region"]].append(event.fields["duration_ms"])
    means = {region: sum(v) / len(v) for region, v in totals.items()}
    assert means["us-east-1"] < means["eu-west-1"] < means["ap-south-1"]


def test_a_run_without_duration_keeps_going() -> None:
    config = SimulationConfig(start_ns=START, duration_s=None, incident=None)
    stream = generate(config)
    assert len([next(stream) for _ in range(2000)]) == 2000


def test_incidents_can_repeat() -> None:
    plan = IncidentPlan(offset_s=10, length_s=5, every_s=60)
    assert [plan.active(t) for t in (5, 12, 20, 71, 76)] == [False, True, False, True, False]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        SimulationConfig(start_ns=START, rate=0)
    with pytest.raises(ValueError, match="anomaly_ratio"):
        SimulationConfig(start_ns=START, anomaly_ratio=1.5)
