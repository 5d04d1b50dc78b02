"""Simulated lines reach Loki as Promtail would store them, or a JSON-lines file."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import httpx
import orjson
import pytest
import respx

from ailogs.domain import NS_PER_SECOND
from ailogs.simulator import SimEvent, SimulationConfig, generate
from ailogs.simulator.sinks import (
    METADATA_FIELDS,
    JsonLinesSink,
    LokiPushSink,
    SimulatorPushError,
    push_payload,
    run,
)

START = 1_795_600_000 * NS_PER_SECOND
LOKI = "http://loki.test:3100"


def sample(count: int = 300) -> list[SimEvent]:
    config = SimulationConfig(start_ns=START, seed=11, duration_s=60.0, incident=None)
    return list(itertools.islice(generate(config), count))


def test_the_payload_uses_the_four_labels_and_structured_metadata() -> None:
    events = sample()
    payload = push_payload(events, env="test")
    streams = payload["streams"]
    assert sum(len(s["values"]) for s in streams) == len(events)
    for stream in streams:
        assert set(stream["stream"]) == {"service_name", "level", "job", "env"}
        assert stream["stream"]["job"] == "simulator"
        assert stream["stream"]["env"] == "test"
        stamps = [int(value[0]) for value in stream["values"]]
        assert stamps == sorted(stamps)
        for value in stream["values"]:
            timestamp, line = value[0], value[1]
            assert isinstance(timestamp, str)
            assert timestamp.isdigit()
            body = orjson.loads(line)
            assert body["service"] == stream["stream"]["service_name"]
            assert body["level"] == stream["stream"]["level"]
            metadata = value[2]
            assert set(metadata) <= set(METADATA_FIELDS)
            assert metadata["correlation_id"] == body["correlation_id"]
            assert metadata["trace_id"] == body["trace_id"]
            assert all(isinstance(v, str) for v in metadata.values())
    ai_values = [v for s in streams for v in s["values"] if '"ai.operation"' in v[1]]
    assert ai_values
    assert all("model" in v[2] for v in ai_values)


@respx.mock
def test_loki_push_sends_the_tenant_header_and_json_body() -> None:
    route = respx.post(f"{LOKI}/loki/api/v1/push").mock(return_value=httpx.Response(204))
    events = sample(50)
    with httpx.Client() as client:
        stats = run(events, LokiPushSink(client, url=LOKI, tenant="acme"), batch_size=20)
    assert stats.lines == 50
    assert stats.batches == 3
    assert route.call_count == 3
    request = route.calls[0].request
    assert request.headers["X-Scope-OrgID"] == "acme"
    assert request.headers["Content-Type"] == "application/json"
    body = orjson.loads(request.content)
    assert sum(len(s["values"]) for s in body["streams"]) == 20


@respx.mock
def test_loki_push_retries_429_then_succeeds() -> None:
    route = respx.post(f"{LOKI}/loki/api/v1/push").mock(
        side_effect=[httpx.Response(429, text="rate limited"), httpx.Response(204)]
    )
    waits: list[float] = []
    with httpx.Client() as client:
        sink = LokiPushSink(client, url=LOKI, tenant=None, sleep=waits.append)
        sink.write(sample(5))
    assert route.call_count == 2
    assert waits == [0.5]
    assert "X-Scope-OrgID" not in route.calls[0].request.headers


@respx.mock
def test_loki_push_gives_up_on_a_bad_request_with_loki_reason() -> None:
    respx.post(f"{LOKI}/loki/api/v1/push").mock(
        return_value=httpx.Response(400, text="structured metadata is disabled")
    )
    with httpx.Client() as client:
        sink = LokiPushSink(client, url=LOKI, tenant="t", sleep=lambda _: None)
        with pytest.raises(SimulatorPushError, match="structured metadata is disabled"):
            sink.write(sample(5))


def test_the_file_sink_writes_one_json_object_per_line(tmp_path: Path) -> None:
    target = tmp_path / "sim.jsonl"
    events = sample(40)
    run(events, JsonLinesSink(target), batch_size=7)
    lines = target.read_text().splitlines()
    assert lines == [e.line() for e in events]


def test_realtime_runs_never_deliver_ahead_of_the_clock() -> None:
    events = sample(30)
    clock = {"now": events[0].ts_ns}
    delivered: list[tuple[int, int]] = []

    class Recorder:
        def write(self, events: Sequence[SimEvent]) -> None:
            delivered.extend((e.ts_ns, clock["now"]) for e in events)

        def close(self) -> None:
            pass

    def sleep(seconds: float) -> None:
        clock["now"] += int(seconds * NS_PER_SECOND)

    run(events, Recorder(), realtime=True, now_ns=lambda: clock["now"], sleep=sleep)
    assert len(delivered) == 30
    assert all(ts <= now for ts, now in delivered)
