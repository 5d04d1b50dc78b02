"""A fake Loki tail server on 127.0.0.1: Loki's `/loki/api/v1/tail` frames over WebSocket.

Like Loki, a new connection first gets every stored line at or after its `start`
in one frame (so a resumed tail sees the boundary lines again), then live
frames. Tests push lines, drop connections and refuse handshakes at will.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

TAIL_FRAMES = Path(__file__).parents[1] / "fixtures" / "loki" / "tail_frames.json"


def recorded_frames() -> list[str]:
    """The raw frames recorded from a real Loki tail."""
    data: dict[str, Any] = json.loads(TAIL_FRAMES.read_text())
    return list(data["frames"])


@dataclass(frozen=True, slots=True)
class Line:
    """One stored line: stream labels, timestamp (ns), text."""

    labels: Mapping[str, str]
    timestamp_ns: int
    text: str


@dataclass
class TailRequest:
    """What a client asked for when it connected."""

    query: str
    start_ns: int | None
    params: dict[str, str]
    headers: dict[str, str]


def frame_of(lines: Sequence[Line], dropped: Sequence[Line] = ()) -> bytes:
    """Loki's frame shape: streams grouped by labels, values `[ts, line]`."""
    streams: dict[tuple[tuple[str, str], ...], list[list[str]]] = {}
    for line in lines:
        key = tuple(sorted(line.labels.items()))
        streams.setdefault(key, []).append([str(line.timestamp_ns), line.text])
    payload: dict[str, Any] = {
        "streams": [{"stream": dict(key), "values": values} for key, values in streams.items()]
    }
    if dropped:
        payload["dropped_entries"] = [
            {"labels": dict(d.labels), "timestamp": str(d.timestamp_ns)} for d in dropped
        ]
    return orjson.dumps(payload)


@dataclass
class FakeLokiTail:
    """Serve `/loki/api/v1/tail` on a random local port."""

    keep_history: bool = True
    history: list[Line] = field(default_factory=list)
    requests: list[TailRequest] = field(default_factory=list)
    refuse_with: list[int] = field(default_factory=list)
    _connections: set[ServerConnection] = field(default_factory=set)
    _server: Server | None = None
    _connected: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        """The http:// base URL to configure as Loki's."""
        assert self._server is not None
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"http://127.0.0.1:{port}"

    @property
    def open_connections(self) -> int:
        """Tails currently connected."""
        return len(self._connections)

    async def start(self) -> FakeLokiTail:
        """Listen on 127.0.0.1 with a random port."""
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            compression=None,
            max_size=None,
        )
        return self

    async def aclose(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def __aenter__(self) -> FakeLokiTail:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        start = params.get("start")
        self.requests.append(
            TailRequest(
                query=params.get("query", ""),
                start_ns=int(start) if start else None,
                params=params,
                headers={k.lower(): v for k, v in request.headers.raw_items()},
            )
        )
        if parts.path != "/loki/api/v1/tail":
            return connection.respond(HTTPStatus.NOT_FOUND, "404 page not found\n")
        if self.refuse_with:
            status = self.refuse_with.pop(0)
            return Response(status, HTTPStatus(status).phrase, Headers(), b"refused by test\n")
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        start = self.requests[-1].start_ns if self.requests else None
        self._connections.add(connection)
        try:
            replay = [line for line in self.history if start is None or line.timestamp_ns >= start]
            await connection.send(frame_of(replay).decode())
            self._connected.set()
            await connection.wait_closed()
        finally:
            self._connections.discard(connection)

    async def wait_connected(self, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until at least `count` tails are connected."""
        async with asyncio.timeout(timeout):
            while len(self._connections) < count:
                await asyncio.sleep(0.01)

    async def push(self, lines: Sequence[Line], dropped: Sequence[Line] = ()) -> None:
        """Store lines and send them to every connected tail as one frame."""
        if self.keep_history:
            self.history.extend(lines)
        await self.push_raw(frame_of(lines, dropped).decode())

    async def push_raw(self, frame: str) -> None:
        """Send a frame as is to every connected tail."""
        for connection in list(self._connections):
            try:
                await connection.send(frame)
            except Exception:
                self._connections.discard(connection)

    async def drop_connections(self) -> None:
        """Cut every tail abruptly, as a crashing Loki would."""
        for connection in list(self._connections):
            connection.transport.abort()
        self._connections.clear()
