"""The Loki tail client: URL, frame parsing, resume without duplicates, refusals."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator

import orjson
import pytest

from ailogs.errors import LokiBadQuery, LokiUnauthorized
from ailogs.loki.tail import (
    Backoff,
    LokiTail,
    ResumePoint,
    TailBatch,
    TailEvent,
    TailNotice,
    TailState,
    parse_tail_frame,
    tail_url,
)
from tests.loki.fake_tail import FakeLokiTail, Line, recorded_frames

API = {"service_name": "api", "level": "info", "job": "app", "env": "dev"}
QUICK = Backoff(initial_s=0.01, max_s=0.05, rng=random.Random(7))


def test_tail_url_follows_the_loki_scheme_and_starts_where_asked() -> None:
    url = tail_url(
        "https://loki:3100/", '{service_name="api"}', start_ns=42, delay_for_s=2, limit=10
    )
    assert url.startswith("wss://loki:3100/loki/api/v1/tail?")
    assert "start=42" in url
    assert "delay_for=2" in url
    assert "limit=10" in url
    assert "query=%7Bservice_name%3D%22api%22%7D" in url
    assert tail_url("http://loki", "{}", start_ns=1).startswith("ws://loki/loki/api/v1/tail?")


def test_recorded_frames_parse_into_records_with_metadata_apart_from_labels() -> None:
    first, live = (parse_tail_frame(frame) for frame in recorded_frames())
    raw = orjson.loads(recorded_frames()[0])
    assert len(first.records) == sum(len(s["values"]) for s in raw["streams"])
    proxy = next(r for r in first.records if r.service == "llm-proxy")
    assert "workspace_id" not in proxy.labels
    assert proxy.field_str("workspace_id") == "ws-dev"
    assert set(proxy.labels) == {"env", "job", "level", "service_name"}
    assert live.records[0].level == "error"
    assert live.records[0].message == "live line"


def test_categorized_streams_and_dropped_entries_are_read() -> None:
    frame = orjson.dumps(
        {
            "streams": [
                {
                    "stream": API,
                    "values": [["5", "hello", {"structuredMetadata": {"trace_id": "t1"}}]],
                }
            ],
            "dropped_entries": [{"labels": API, "timestamp": "4"}],
        }
    )
    batch = parse_tail_frame(frame)
    assert batch.records[0].field_str("trace_id") == "t1"
    assert batch.dropped[0].timestamp_ns == 4
    assert batch.dropped[0].labels["service_name"] == "api"


def test_resume_point_drops_lines_seen_at_the_boundary_only() -> None:
    resume = ResumePoint(start_ns=10)
    first = parse_tail_frame(
        orjson.dumps({"streams": [{"stream": API, "values": [["10", "a"], ["20", "b"]]}]})
    )
    assert len(resume.admit(first).records) == 2
    again = parse_tail_frame(
        orjson.dumps(
            {"streams": [{"stream": API, "values": [["20", "b"], ["20", "c"], ["30", "d"]]}]}
        )
    )
    assert [r.line for r in resume.admit(again).records] == ["c", "d"]
    assert resume.timestamp_ns == 30


async def _batches(events: AsyncIterator[TailEvent], lines: int) -> list[str]:
    seen: list[str] = []
    async with asyncio.timeout(5):
        async for event in events:
            if isinstance(event, TailBatch):
                seen.extend(r.line for r in event.records)
                if len(seen) >= lines:
                    return seen
    return seen


async def test_the_tail_starts_now_with_the_tenant_and_resumes_without_duplicates() -> None:
    async with FakeLokiTail() as loki:
        now = time.time_ns()
        old = Line(API, now - 3_600 * 10**9, "an hour ago")
        loki.history.append(old)
        tail = LokiTail(loki.url, tenant="dev", backoff=QUICK)
        events = tail.tail('{service_name="api"}')
        first = await anext(events)
        assert first == TailNotice(TailState.CONNECTED)
        request = loki.requests[0]
        assert request.headers["x-scope-orgid"] == "dev"
        assert request.query == '{service_name="api"}'
        assert request.start_ns is not None
        assert request.start_ns >= now

        base = time.time_ns()
        await loki.push([Line(API, base + 1, "one"), Line(API, base + 2, "two")])
        await loki.push([Line(API, base + 2, "two-bis")])
        assert await _batches(events, 3) == ["one", "two", "two-bis"]

        await loki.drop_connections()
        # Written while the tail is away: replayed on reconnect with the boundary lines.
        loki.history.append(Line(API, base + 3, "three"))
        reconnect = asyncio.create_task(_batches(events, 1))
        await loki.wait_connected()
        assert await reconnect == ["three"]
        assert loki.requests[-1].start_ns == base + 2
        await loki.push([Line(API, base + 4, "four")])
        assert await _batches(events, 1) == ["four"]
        await events.aclose()


async def test_loki_dropped_entries_reach_the_consumer() -> None:
    async with FakeLokiTail() as loki:
        events = LokiTail(loki.url, backoff=QUICK).tail("{}")
        await anext(events)
        stamp = time.time_ns()
        await loki.push([Line(API, stamp, "kept")], dropped=[Line(API, stamp - 1, "")])
        async with asyncio.timeout(5):
            event = await anext(events)
        assert isinstance(event, TailBatch)
        assert [d.timestamp_ns for d in event.dropped] == [stamp - 1]
        await events.aclose()


async def test_a_bad_query_is_fatal_but_unavailability_is_retried() -> None:
    async with FakeLokiTail(refuse_with=[400]) as loki:
        with pytest.raises(LokiBadQuery):
            await anext(LokiTail(loki.url, backoff=QUICK).tail("{"))
    async with FakeLokiTail(refuse_with=[401]) as loki:
        with pytest.raises(LokiUnauthorized):
            await anext(LokiTail(loki.url, backoff=QUICK).tail("{}"))
    async with FakeLokiTail(refuse_with=[503, 429]) as loki:
        events = LokiTail(loki.url, backoff=QUICK).tail("{}")
        async with asyncio.timeout(5):
            states = [await anext(events) for _ in range(3)]
        assert [s.state for s in states if isinstance(s, TailNotice)] == [
            TailState.RECONNECTING,
            TailState.RECONNECTING,
            TailState.CONNECTED,
        ]
        await events.aclose()
