"""The stream hub: shared upstreams, local filters, alerts, slow consumers, shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import orjson
import pytest

from ailogs.analysis.patterns import PatternLibrary, default_pattern_library
from ailogs.analysis.redaction import Redactor
from ailogs.domain import make_record
from ailogs.errors import StreamLimitExceeded, ValidationFailed
from ailogs.loki.tail import DroppedEntry, TailBatch
from ailogs.services.stream_filter import FilterLimits
from ailogs.services.stream_frames import ServerFrame
from ailogs.services.stream_hub import HubLimits, StreamHub, StreamSession
from ailogs.services.stream_source import InMemoryTailSource

ALL = '{service_name=~".+"}'
API = '{service_name="api"}'


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingLibrary:
    """The real library, counting how often lines are scanned."""

    def __init__(self, library: PatternLibrary) -> None:
        self.library = library
        self.scanned = 0

    def match_lines(self, lines: Sequence[str]) -> list[tuple[str, ...]]:
        self.scanned += len(lines)
        return self.library.match_lines(lines)

    def select(self, ids_or_categories: Any) -> frozenset[str]:
        return self.library.select(ids_or_categories)

    def get(self, pattern_id: str) -> Any:
        return self.library.get(pattern_id)


def line(service: str, level: str, msg: str, ts: int = 1, **fields: str) -> Any:
    body = orjson.dumps({"level": level, "msg": msg, **fields}).decode()
    labels = {"service_name": service, "level": level, "job": "app"}
    return make_record(ts, body, labels, dict(fields))


def batch(*records: Any, dropped: Sequence[DroppedEntry] = ()) -> TailBatch:
    return TailBatch(tuple(records), tuple(dropped))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def library() -> CountingLibrary:
    return CountingLibrary(default_pattern_library(engine="re"))


@pytest.fixture
def source() -> InMemoryTailSource:
    return InMemoryTailSource()


def make_hub(
    source: InMemoryTailSource, library: CountingLibrary, clock: Clock, **limits: Any
) -> StreamHub:
    options: dict[str, Any] = {"tick_s": 3600.0, "alert_interval_s": 5.0}
    options.update(limits)
    return StreamHub(source=source, patterns=library, limits=HubLimits(**options), clock=clock)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def frames(session: StreamSession) -> list[dict[str, Any]]:
    """What a writer takes from the session's outbox (and has sent)."""
    await settle()
    async with asyncio.timeout(1):
        taken = await session.outbox.take()
    session.outbox.sent()
    return [orjson.loads(frame) for frame in taken]


def logs(received: list[dict[str, Any]]) -> list[str]:
    return [e["message"] for f in received if f["type"] == "log" for e in f["entries"]]


def of_type(received: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [f for f in received if f["type"] == kind]


async def test_subscribers_share_one_upstream_and_each_line_is_scanned_once(
    source: InMemoryTailSource, library: CountingLibrary, clock: Clock
) -> None:
    hub = make_hub(source, library, clock)
    sessions = [hub.open_session(client_key="c", tenant="dev") for _ in range(3)]
    for session in sessions:
        hub.subscribe(session, {"services": ["api"]})
    await settle()
    assert source.opened == [(API, "dev")]
    assert hub.upstream_count == 1
    source.push(API, batch(line("api", "info", "hello"), line("api", "error", "boom")))
    for session in sessions:
        received = await frames(session)
        assert of_type(received, "subscribed")[0]["filter"]["services"] == ["api"]
        assert logs(received) == ["hello", "boom"]
    assert library.scanned == 2
    await hub.aclose()


async def test_filters_apply_locally_and_a_wide_tail_serves_narrower_subscribers(
    source: InMemoryTailSource, library: CountingLibrary, clock: Clock
) -> None:
    hub = make_hub(source, library, clock)
    everything = hub.open_session(client_key="c", tenant=None)
    errors = hub.open_session(client_key="c", tenant=None)
    search = hub.open_session(client_key="c", tenant=None)
    workspace = hub.open_session(client_key="c", tenant=None)
    hub.subscribe(everything, {})
    hub.subscribe(errors, {"services": ["api"], "severity_threshold": "error"})
    hub.subscribe(search, {"search": "quota"})
    hub.subscribe(workspace, {"workspace_id": "ws-1"})
    await settle()
    assert hub.upstream_queries() == [ALL]
    source.push(
        ALL,
        batch(
            line("api", "info", "quota ok"),
            line("api", "error", "api failed"),
            line("web", "error", "web failed", workspace_id="ws-1"),
        ),
    )
    assert logs(await frames(everything)) == ["quota ok", "api failed", "web failed"]
    assert logs(await frames(errors)) == ["api failed"]
    assert logs(await frames(search)) == ["quota ok"]
    assert logs(await frames(workspace)) == ["web failed"]
    await hub.aclose()


async def test_update_filter_takes_effect_in_place_and_the_last_leaver_closes_the_tail(
    source: InMemoryTailSource, library: CountingLibrary, clock: Clock
) -> None:
    hub = make_hub(source, library, clock)
    session = hub.open_session(client_key="c", tenant=None)
    hub.subscribe(session, {"services": ["api"]})
    await settle()
    hub.update_filter(session, {"services": ["api"], "severity_threshold": "warning"})
    await settle()
    assert source.opened == [(API, None)]
    source.push(API, batch(line("api", "info", "quiet"), line("api", "warning", "loud")))
    assert logs(await frames(session)) == ["loud"]

    hub.update_filter(session, {"services": ["web"]})
    await settle()
    assert source.open_queries == ['{service_name="web"}']
    hub.unsubscribe(session)
    await settle()
    assert source.open_queries == []
    assert hub.upstream_count == 0
    assert of_type(await frames(session), "unsubscribed")
    await hub.aclose()


async def test_a_burst_of_matches_becomes_two_alert_frames(
    source: InMemoryTailSource, library: CountingLibrary, clock: Clock
) -> None:
    hub = make_hub(source, library, clock)
    session = hub.open_session(client_key="c", tenant=None)
    hub.subscribe(session, {"pattern_alerts": ["connectivity"], "include_logs": False})
    await settle()
    burst = [line("api", "error", f"upstream timed out after {n} ms", ts=n) for n in range(1000)]
    source.push(ALL, batch(*burst))
    first = await frames(session)
    assert logs(first) == []
    [alert] = of_type(first, "alert")
    assert alert["pattern_id"] == "connectivity.timeout"
    assert alert["count"] == 1
    assert alert["severity"] in {"low", "medium", "high", "critical"}
    assert "timed out" in alert["example"]["line"]

    clock.now += 5
    hub.tick()
    [summary] = of_type(await frames(session), "alert")
    assert summary["count"] == 999
    assert summary["window_s"] == 5.0
    clock.now += 5
    hub.tick()
    source.push(ALL, batch(line("api", "info", "all good")))
    assert of_type(await frames(session), "alert") == []
    await hub.aclose()


async def test_unknown_patterns_and_oversized_filters_are_refused(
    source: InMemoryTailSource, library: CountingLibrary, clock: Clock
) -> None:
    hub = make_hub(source, library, clock, filter=FilterLimits(max_services=2))
    session = hub.open_session(client_key="c", tenant=None)
    with pytest.raises(ValidationFailed) as unknown:
        hub.subscribe(session, {"pattern_alerts": ["no.such_pattern"]})
    assert unknown.value.field == "pattern_alerts"
    with pytest.raises(ValidationFailed):
        hub.subscribe(session, {"services": ["a", "b", "c"]})
    with pytest.raises(ValidationFailed):
        hub.subscribe(session, {"severity_threshold": "loud"})
    with pytest.raises(ValidationFailed):
        hub.subscribe(session, {"colour": "red"})
    assert hub.upstream_count == 0
    await hub.aclose()


async def test_a_slow_consumer_loses_its_oldest_logs_never_its_alerts_nor_others_lines(
    source: InMemoryTailSource, library: CountingLibrary, clock: Clock
) -> None:
    hub = make_hub(source, library, clock, queue_max_lines=10)
    slow = hub.open_session(client_key="c", tenant=None)
    fast = hub.open_session(client_key="c", tenant=None)
    for session in (slow, fast):
        hub.subscribe(session, {"pattern_alerts": ["connectivity.timeout"]})
    await frames(slow)
    delivered: list[str] = []
    for n in range(10):
        records = [line("api", "info", f"line {n}-{i}") for i in range(5)]
        if n == 0:
            records[0] = line("api", "error", "connect timed out")
        source.push(ALL, batch(*records))
        delivered += logs(await frames(fast))
    assert len(delivered) == 50
    received = await frames(slow)
    assert received[0]["type"] == "alert"
    [dropped] = of_type(received, "dropped")
    assert dropped == {"type": "dropped", "count": 40, "source": "slow_consumer"}
    assert logs(received) == [f"line {n}-{i}" for n in (8, 9) for i in range(5)]
    await hub.aclose()


async def test_loki_dropped_entries_and_rates_reach_subscribers(
    source: InMemoryTailSource, library: CountingLibrary, clock: Clock
) -> None:
    hub = make_hub(source, library, clock, metrics_interval_s=10.0)
    session = hub.open_session(client_key="c", tenant=None)
    hub.subscribe(session, {"services": ["api"]})
    await settle()
    lost = DroppedEntry({"service_name": "api"}, 5)
    source.push(API, batch(line("api", "error", "x"), line("api", "info", "y"), dropped=[lost]))
    received = await frames(session)
    assert of_type(received, "dropped") == [{"type": "dropped", "count": 1, "source": "loki"}]
    clock.now += 10
    hub.tick()
    [metrics] = of_type(await frames(session), "metrics")
    assert metrics["services"] == {"api": {"lines_per_s": 0.2, "errors_per_s": 0.1}}
    await hub.aclose()


async def test_limits_are_clear_errors(
    source: InMemoryTailSource, library: CountingLibrary, clock: Clock
) -> None:
    hub = make_hub(source, library, clock, max_sessions_per_client=2, max_upstreams_per_tenant=1)
    first = hub.open_session(client_key="k", tenant=None)
    second = hub.open_session(client_key="k", tenant=None)
    with pytest.raises(StreamLimitExceeded):
        hub.open_session(client_key="k", tenant=None)
    hub.subscribe(first, {"services": ["api"]})
    with pytest.raises(StreamLimitExceeded):
        hub.subscribe(second, {"services": ["web"]})
    hub.close_session(second)
    assert hub.open_session(client_key="k", tenant=None) is not None
    await hub.aclose()


async def test_shutdown_sends_a_closing_frame_and_closes_the_tails(
    source: InMemoryTailSource, library: CountingLibrary, clock: Clock
) -> None:
    hub = make_hub(source, library, clock)
    session = hub.open_session(client_key="c", tenant=None)
    hub.subscribe(session, {})
    await frames(session)
    await hub.aclose()
    assert source.open_queries == []
    [closing] = await frames(session)
    assert closing["type"] == "error"
    assert closing["code"] == "SHUTTING_DOWN"
    assert await session.outbox.take() == []
    with pytest.raises(StreamLimitExceeded):
        hub.open_session(client_key="c", tenant=None)


class CountingRedactor:
    """The real redactor, counting the batches it masks."""

    def __init__(self) -> None:
        self.redactor = Redactor()
        self.batches = 0

    def __call__(self, records: Sequence[Any]) -> list[Any]:
        self.batches += 1
        return self.redactor.redact_records(records)


async def test_each_batch_is_redacted_once_before_logs_and_alert_examples_are_built(
    source: InMemoryTailSource, library: CountingLibrary, clock: Clock
) -> None:
    redact = CountingRedactor()
    hub = StreamHub(
        source=source,
        patterns=library,
        limits=HubLimits(tick_s=3600.0),
        redact=redact,
        clock=clock,
    )
    sessions = [hub.open_session(client_key="c", tenant=None) for _ in range(3)]
    hub.subscribe(sessions[0], {})
    hub.subscribe(sessions[1], {"search": "password"})
    hub.subscribe(sessions[2], {"pattern_alerts": ["connectivity"], "include_logs": False})
    await settle()
    secret = "sk-live-0123456789abcdefABCDEF"
    source.push(
        ALL,
        batch(
            line("api", "error", f"read timed out, key {secret}", token="Bearer abcdefgh12345"),
            line("api", "info", "password=swordfish-42 accepted"),
        ),
    )
    everything = await frames(sessions[0])
    searched = await frames(sessions[1])
    alerted = await frames(sessions[2])
    assert redact.batches == 1
    for received in (everything, searched, alerted):
        assert secret not in orjson.dumps(received).decode()
        assert "swordfish-42" not in orjson.dumps(received).decode()
    assert logs(everything) == [
        "read timed out, key [REDACTED:keys]",
        "password=[REDACTED:passwords] accepted",
    ]
    [entry, _] = [e for f in of_type(everything, "log") for e in f["entries"]]
    assert entry["fields"]["token"] == "Bearer [REDACTED:tokens]"
    # Search sees the masked text only: a secret cannot be probed for by searching it.
    assert logs(searched) == ["password=[REDACTED:passwords] accepted"]
    [alert] = of_type(alerted, "alert")
    assert alert["example"]["line"].count("[REDACTED:keys]") == 1
    await hub.aclose()


async def test_log_frames_are_paced_but_control_frames_are_not(
    source: InMemoryTailSource, library: CountingLibrary, clock: Clock
) -> None:
    hub = make_hub(source, library, clock, flush_interval_s=0.2)
    session = hub.open_session(client_key="c", tenant=None)
    hub.subscribe(session, {})
    await frames(session)
    # Within the interval of the last flush: the first batch waits for the second.
    source.push(ALL, batch(line("api", "info", "one")))
    take = asyncio.create_task(session.outbox.take())
    await settle()
    assert not take.done()
    source.push(ALL, batch(line("api", "info", "two")))
    async with asyncio.timeout(2):
        received = [orjson.loads(frame) for frame in await take]
    assert [f["type"] for f in received] == ["log"]
    assert logs(received) == ["one", "two"]
    # A pong does not wait, and carries the logs queued meanwhile.
    source.push(ALL, batch(line("api", "info", "three")))
    await settle()
    session.send(ServerFrame.PONG)
    received = await frames(session)
    assert [f["type"] for f in received] == ["pong", "log"]
    # After a quiet interval a line goes out at once.
    clock.now += 0.2
    source.push(ALL, batch(line("api", "info", "four")))
    take = asyncio.create_task(session.outbox.take())
    await settle()
    assert take.done()
    assert logs([orjson.loads(frame) for frame in take.result()]) == ["four"]
    await hub.aclose()


async def test_heartbeats_reach_idle_sessions_that_asked_for_them(
    source: InMemoryTailSource, library: CountingLibrary, clock: Clock
) -> None:
    hub = make_hub(source, library, clock, heartbeat_s=20.0, metrics_interval_s=3600.0)
    idle = hub.open_session(client_key="c", tenant=None, heartbeat=True)
    busy = hub.open_session(client_key="c", tenant=None, heartbeat=True)
    without = hub.open_session(client_key="c", tenant=None)
    for session in (idle, busy, without):
        hub.subscribe(session, {})
        await frames(session)
    clock.now += 19.0
    hub.tick()
    busy.send(ServerFrame.PONG)
    assert [f["type"] for f in await frames(busy)] == ["pong"]
    clock.now += 1.0
    hub.tick()
    assert await frames(idle) == [{"type": "pong", "heartbeat": True}]
    for quiet in (busy, without):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(quiet.outbox.take(), 0.05)
    await hub.aclose()


async def test_a_send_stuck_past_the_timeout_aborts_only_that_session(
    source: InMemoryTailSource, library: CountingLibrary, clock: Clock
) -> None:
    hub = make_hub(source, library, clock, send_timeout_s=30.0, metrics_interval_s=3600.0)
    stuck = hub.open_session(client_key="c", tenant=None)
    healthy = hub.open_session(client_key="c", tenant=None)
    aborted: list[int] = []
    for session in (stuck, healthy):
        session.on_send_stalled = lambda s=session: aborted.append(s.id)
        hub.subscribe(session, {})
        await session.outbox.take()  # taken; the writer is now sending
    healthy.outbox.sent()
    clock.now += 30.0
    hub.tick()
    assert aborted == []
    clock.now += 1.0
    hub.tick()
    assert aborted == [stuck.id]
    await hub.aclose()


async def test_lagging_subscribers_with_one_filter_share_one_merged_frame(
    source: InMemoryTailSource, library: CountingLibrary, clock: Clock
) -> None:
    hub = make_hub(source, library, clock)
    sessions = [hub.open_session(client_key="c", tenant=None) for _ in range(3)]
    for session in sessions:
        hub.subscribe(session, {"services": ["api"]})
        await frames(session)
    for n in range(3):
        source.push(API, batch(line("api", "info", f"line {n}")))
    await settle()
    taken = [await session.outbox.take() for session in sessions]
    assert [len(frames) for frames in taken] == [1, 1, 1]
    first = taken[0][0]
    assert all(frames[0] is first for frames in taken)
    assert logs([orjson.loads(first)]) == ["line 0", "line 1", "line 2"]
    await hub.aclose()
