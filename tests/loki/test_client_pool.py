"""The Loki client against a real HTTP server on 127.0.0.1: connections are reused."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from ailogs.errors import LokiError
from ailogs.loki import LokiClient

STREAMS = orjson.dumps(
    {
        "status": "success",
        "data": {
            "resultType": "streams",
            "result": [
                {
                    "stream": {"service_name": "api"},
                    "values": [[str(1795255200000000000 + i), "x" * 2000] for i in range(200)],
                }
            ],
        },
    }
)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    connections: set[tuple[str, int]] = set()  # noqa: RUF012

    def do_GET(self) -> None:
        self.connections.add(self.client_address)
        if "bad" in self.path:
            body, status = b'{"status":"error","error":"parse error"}', 400
        else:
            body, status = STREAMS, 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def server() -> Iterator[tuple[str, set[tuple[str, int]]]]:
    connections: set[tuple[str, int]] = set()
    handler = type("Handler", (_Handler,), {"connections": connections})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", connections
    finally:
        httpd.shutdown()
        httpd.server_close()


async def test_sequential_pages_and_errors_reuse_one_connection(
    server: tuple[str, set[tuple[str, int]]],
) -> None:
    url, connections = server
    loki = LokiClient(url, retry_attempts=1)
    try:
        for i in range(200):
            if i % 20 == 19:  # a 4xx answer on the way must not leak its connection
                with pytest.raises(LokiError):
                    await loki.query_range("bad", start_ns=1, end_ns=2)
                continue
            result = await loki.query_range('{service_name="api"}', start_ns=1, end_ns=2)
            assert len(result.records) == 200
    finally:
        await loki.aclose()
    assert len(connections) == 1
