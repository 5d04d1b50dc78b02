"""`WS /stream` and `GET /stream/sse` end to end: uvicorn on 127.0.0.1, a fake Loki tail."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from ailogs.api.app import create_app
from ailogs.api.runtime import Runtime
from ailogs.settings import LokiSettings, Settings, StreamSettings
from tests.loki.fake_tail import FakeLokiTail, Line

API = {"service_name": "api", "level": "error", "job": "app", "env": "dev"}
WEB = {"service_name": "web", "level": "info", "job": "app", "env": "dev"}


@dataclass
class Served:
    """A running app and the fake Loki behind it."""

    app: FastAPI
    loki: FakeLokiTail
    base: str

    @property
    def ws_url(self) -> str:
        return self.base.replace("http://", "ws://") + "/api/v1/ai_logs/stream"

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime


@contextlib.asynccontextmanager
async def serve(**stream: Any) -> AsyncIterator[Served]:
    async with FakeLokiTail() as loki:
        settings = Settings(
            loki=LokiSettings(url=loki.url, tenant="dev"),
            stream=StreamSettings(**stream),
        )
        app = create_app(settings, configure_logs=False)
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield Served(app, loki, f"http://127.0.0.1:{port}")
        finally:
            server.should_exit = True
            await task


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    async with serve() as running:
        yield running


async def receive(ws: ClientConnection, kind: str | None = None) -> dict[str, Any]:
    """The next frame (of `kind`, skipping others)."""
    async with asyncio.timeout(5):
        while True:
            frame: dict[str, Any] = orjson.loads(await ws.recv())
            if kind is None or frame["type"] == kind:
                return frame


async def send(ws: ClientConnection, frame: dict[str, Any]) -> None:
    await ws.send(orjson.dumps(frame).decode())


async def test_subscribe_receives_live_lines_and_pong(served: Served) -> None:
    async with connect(served.ws_url) as ws:
        await send(ws, {"type": "subscribe", "filter": {"services": ["api"]}})
        subscribed = await receive(ws)
        assert subscribed["type"] == "subscribed"
        await served.loki.wait_connected()
        assert served.loki.requests[-1].query == '{service_name="api"}'
        assert served.loki.requests[-1].headers["x-scope-orgid"] == "dev"
        stamp = time.time_ns()
        await served.loki.push([Line(API, stamp, '{"msg": "connection refused by db"}')])
        log = await receive(ws, "log")
        [entry] = log["entries"]
        assert entry["service"] == "api"
        assert entry["message"] == "connection refused by db"
        assert entry["patterns"] == ["connectivity.connection_refused"]
        await send(ws, {"type": "ping", "id": 7})
        assert await receive(ws, "pong") == {"type": "pong", "id": 7}


async def test_bad_frames_get_error_frames_and_the_connection_stays_usable(
    served: Served,
) -> None:
    async with connect(served.ws_url) as ws:
        await ws.send("{not json")
        assert (await receive(ws))["code"] == "INVALID_FRAME"
        await send(ws, {"type": "dance"})
        unknown = await receive(ws)
        assert unknown["code"] == "INVALID_FRAME"
        assert "subscribe" in unknown["message"]
        await ws.send("[1, 2]")
        assert (await receive(ws))["code"] == "INVALID_FRAME"
        await send(ws, {"type": "subscribe", "filter": {"severity_threshold": "loud"}})
        invalid = await receive(ws)
        assert invalid["code"] == "VALIDATION_ERROR"
        assert invalid["field"] == "severity_threshold"
        await send(ws, {"type": "subscribe", "filter": {"services": ["x" * 200]}})
        assert (await receive(ws))["code"] == "VALIDATION_ERROR"
        await send(ws, {"type": "ping"})
        assert (await receive(ws))["type"] == "pong"


async def test_an_oversized_frame_closes_with_1009(served: Served) -> None:
    async with connect(served.ws_url, max_size=None) as ws:
        await ws.send("x" * (1024 * 1024))
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009


async def test_update_filter_changes_what_arrives_without_reconnecting(served: Served) -> None:
    async with connect(served.ws_url) as ws:
        await send(ws, {"type": "subscribe", "filter": {}})
        await receive(ws, "subscribed")
        await served.loki.wait_connected()
        await send(ws, {"type": "update_filter", "filter": {"severity_threshold": "error"}})
        await receive(ws, "subscribed")
        stamp = time.time_ns()
        await served.loki.push([Line(WEB, stamp, "fine"), Line(API, stamp + 1, "broken")])
        log = await receive(ws, "log")
        assert [e["message"] for e in log["entries"]] == ["broken"]
        assert served.loki.open_connections == 1


async def test_per_client_limit_is_an_error_frame_then_a_policy_close() -> None:
    async with serve(max_subscribers_per_client=1) as served:
        async with connect(served.ws_url) as first:
            await send(first, {"type": "ping"})
            await receive(first, "pong")
            async with connect(served.ws_url) as second:
                refused = await receive(second)
                assert refused["code"] == "STREAM_LIMIT_EXCEEDED"
                with pytest.raises(ConnectionClosed) as closed:
                    await receive(second)
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == 1008


async def test_shutdown_sends_a_closing_frame_then_going_away(served: Served) -> None:
    async with connect(served.ws_url) as ws:
        await send(ws, {"type": "subscribe", "filter": {}})
        await receive(ws, "subscribed")
        await served.loki.wait_connected()
        hub = served.runtime.stream_hub
        assert hub is not None
        await hub.aclose()
        closing = await receive(ws)
        assert closing["code"] == "SHUTTING_DOWN"
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1001
        async with asyncio.timeout(5):
            while served.loki.open_connections:
                await asyncio.sleep(0.01)


async def test_sse_twin_streams_the_same_frames(served: Served) -> None:
    url = served.base + "/api/v1/ai_logs/stream/sse"
    async with httpx.AsyncClient(timeout=5) as client:
        params = {"services": "api", "pattern_alerts": "connectivity"}
        async with client.stream("GET", url, params=params) as response:
            assert response.status_code == 200
            events: list[tuple[str, dict[str, Any]]] = []
            kind = ""
            pushed = False
            async with asyncio.timeout(5):
                async for raw in response.aiter_lines():
                    if raw.startswith("event:"):
                        kind = raw.split(":", 1)[1].strip()
                    elif raw.startswith("data:"):
                        events.append((kind, orjson.loads(raw.split(":", 1)[1])))
                        if not pushed:
                            await served.loki.wait_connected()
                            line = '{"msg": "db connect timed out"}'
                            await served.loki.push([Line(API, time.time_ns(), line)])
                            pushed = True
                    if {"log", "alert"} <= {k for k, _ in events}:
                        break
    assert events[0][0] == "subscribed"
    assert events[0][1]["filter"]["pattern_ids"]
    alert = next(data for k, data in events if k == "alert")
    assert alert["pattern_id"] == "connectivity.timeout"


async def test_sse_rejects_an_invalid_filter_with_the_error_body(served: Served) -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(
            served.base + "/api/v1/ai_logs/stream/sse", params={"severity_threshold": "loud"}
        )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_stream_gauges_are_exported(served: Served) -> None:
    async with connect(served.ws_url) as ws:
        await send(ws, {"type": "subscribe", "filter": {}})
        await receive(ws, "subscribed")
        async with httpx.AsyncClient(timeout=5) as client:
            text = (await client.get(served.base + "/metrics")).text
    assert "ailogs_stream_subscribers 1.0" in text
    assert "ailogs_stream_upstreams 1.0" in text
    assert "ailogs_stream_dropped_total" in text or "ailogs_stream_dropped" in text


# A tailed line carrying three kinds of secret, in the message and in a field.
SECRET_KEY = "sk-proj-AbCdEf0123456789XyZwvu"
SECRET_TOKEN = "eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl"
SECRET_PASSWORD = "hunter2-Correct-Horse"
LEAKY_LINE = orjson.dumps(
    {
        "msg": f"upstream timed out; retried with key {SECRET_KEY} password={SECRET_PASSWORD}",
        "auth": f"Bearer {SECRET_TOKEN}",
    }
).decode()
PLAIN_LEAKY_LINE = f"ERROR db connect timed out, dsn password: {SECRET_PASSWORD}"


def assert_no_secret(text: str) -> None:
    for secret in (SECRET_KEY, SECRET_TOKEN, SECRET_PASSWORD):
        assert secret not in text


async def test_secrets_in_tailed_lines_never_reach_a_websocket_client(served: Served) -> None:
    async with connect(served.ws_url) as ws:
        await send(ws, {"type": "subscribe", "filter": {"pattern_alerts": ["connectivity"]}})
        await receive(ws, "subscribed")
        await served.loki.wait_connected()
        stamp = time.time_ns()
        await served.loki.push(
            [Line(API, stamp, LEAKY_LINE), Line(API, stamp + 1, PLAIN_LEAKY_LINE)]
        )
        raw: list[str] = []
        kinds: set[str] = set()
        entries: list[dict[str, Any]] = []
        alerts: list[dict[str, Any]] = []
        async with asyncio.timeout(5):
            while len(entries) < 2 or not alerts:
                text = await ws.recv()
                assert isinstance(text, str)
                raw.append(text)
                frame = orjson.loads(text)
                kinds.add(frame["type"])
                entries += frame.get("entries", [])
                if frame["type"] == "alert":
                    alerts.append(frame)
    for text in raw:
        assert_no_secret(text)
    masked, plain = entries
    assert "[REDACTED:keys]" in masked["message"]
    assert "password=[REDACTED:passwords]" in masked["message"]
    assert masked["fields"]["auth"] == "Bearer [REDACTED:tokens]"
    assert masked["patterns"] == ["connectivity.timeout"]
    assert plain["message"].endswith("password: [REDACTED:passwords]")
    assert "[REDACTED:" in alerts[0]["example"]["line"]


async def test_secrets_in_tailed_lines_never_reach_an_sse_client(served: Served) -> None:
    url = served.base + "/api/v1/ai_logs/stream/sse"
    body: list[str] = []
    async with httpx.AsyncClient(timeout=5) as client:
        params = {"services": "api", "pattern_alerts": "connectivity.timeout"}
        async with client.stream("GET", url, params=params) as response:
            assert response.status_code == 200
            kinds: list[str] = []
            async with asyncio.timeout(5):
                async for raw in response.aiter_lines():
                    body.append(raw)
                    if raw.startswith("event:"):
                        kinds.append(raw.split(":", 1)[1].strip())
                    if kinds == ["subscribed"] and raw.startswith("data:"):
                        await served.loki.wait_connected()
                        await served.loki.push([Line(API, time.time_ns(), LEAKY_LINE)])
                        kinds.append("pushed")
                    if {"log", "alert"} <= set(kinds) and raw.startswith("data:"):
                        break
    text = "\n".join(body)
    assert_no_secret(text)
    assert "[REDACTED:keys]" in text
    assert "Bearer [REDACTED:tokens]" in text
