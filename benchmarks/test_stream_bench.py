"""Live-stream load bench: 500 WebSocket subscribers on one server, 1,000 lines/s upstream.

Layout (all on 127.0.0.1): this process runs the fake Loki tail and paces the
lines (each carries its send time); the ailogs server runs in its own process
(uvicorn, started as `ailogs serve` starts it); subscribers run in worker
processes as lean raw-socket WebSocket clients. Latency is the time a frame's
bytes reach the subscriber's process minus the time the fake Loki sent the line.

Phase 1: every subscriber reads. Phase 2: the same with STALLED of them never
reading (they stop reading the socket once subscribed). Bars: p99 < 250 ms,
zero lost lines for readers, one upstream tail, phase-2 p99 within 20% of
phase 1, server RSS bounded.

    make bench                                   # pytest, short default duration
    BENCH_STREAM_SECONDS=60 .venv/bin/pytest benchmarks/test_stream_bench.py -s
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.loki.fake_tail import FakeLokiTail, Line  # noqa: E402

SUBSCRIBERS = int(os.environ.get("BENCH_STREAM_SUBSCRIBERS", "500"))
STALLED = int(os.environ.get("BENCH_STREAM_STALLED", "50"))
RATE = int(os.environ.get("BENCH_STREAM_RATE", "1000"))
SECONDS = float(os.environ.get("BENCH_STREAM_SECONDS", "8"))
WORKERS = int(os.environ.get("BENCH_STREAM_WORKERS", "2"))
FRAME_MS = 50
LABELS = {"service_name": "bench", "level": "info", "job": "app", "env": "dev"}
BUCKET_MS = 1
LOG_PREFIX = b'{"type":"log"'
SEQ_KEY = b'"seq":'
SEQ = re.compile(rb'"seq":(\d+)')
SENT = re.compile(rb'"sent":([0-9.]+)')
SUBSCRIBE = b'{"type":"subscribe","filter":{"services":["bench"]}}'


# --- worker: subscribers in one process --------------------------------------------
#
# A lean RFC 6455 client (asyncio Protocol): the receive time of a frame is taken
# when its bytes reach the process (`data_received`), and identical frames sent
# to the worker's many subscribers are scanned once. So the latency measured is
# the server's, not that of 250 Python clients sharing two cores with it.


@dataclass
class _Tally:
    """What one reading subscriber saw."""

    seen: int = 0
    duplicates: int = 0
    dropped: int = 0
    last: int = -1
    histogram: dict[int, int] = field(default_factory=dict)


class _FrameScans:
    """Per (first seq, last seq, size) of a log frame: its line count and send times.

    Every subscriber of a worker receives the same frames; scanning each once keeps
    the client's cost per frame to a dictionary lookup.
    """

    def __init__(self) -> None:
        self._scans: dict[tuple[int, int, int], tuple[int, tuple[tuple[float, int], ...]]] = {}

    def scan(self, payload: bytes) -> tuple[int, int, int, tuple[tuple[float, int], ...]]:
        first_match = SEQ.search(payload)
        last_match = SEQ.search(payload, payload.rindex(SEQ_KEY))
        if first_match is None or last_match is None:
            raise ValueError("a log frame without seq")
        first, final = int(first_match.group(1)), int(last_match.group(1))
        key = (first, final, len(payload))
        known = self._scans.get(key)
        if known is None:
            sends = tuple((float(s), n) for s, n in Counter(SENT.findall(payload)).items())
            known = (payload.count(SEQ_KEY), sends)
            if len(self._scans) > 100_000:
                self._scans.clear()
            self._scans[key] = known
        return first, final, known[0], known[1]


def _masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client frame (clients must mask, RFC 6455 §5.3)."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = bytes([0x80 | opcode, 0x80 | length])
    elif length < 1 << 16:
        header = bytes([0x80 | opcode, 0x80 | 126]) + length.to_bytes(2, "big")
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + length.to_bytes(8, "big")
    body = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
    return header + mask + body


class _Subscriber(asyncio.Protocol):
    """One WebSocket subscriber: subscribes, then tallies (or, if stalled, never reads)."""

    def __init__(
        self, path: str, host: str, expected: int, stalled: bool, scans: _FrameScans
    ) -> None:
        self._path = path
        self._host = host
        self._expected = expected
        self.stalled = stalled
        self._scans = scans
        self._buffer = bytearray()
        self._upgraded = False
        self._fragments: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.tally = _Tally()
        loop = asyncio.get_running_loop()
        self.subscribed: asyncio.Future[None] = loop.create_future()
        self.finished: asyncio.Future[None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = transport  # type: ignore[assignment]
        assert self.transport is not None
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(
            f"GET {self._path} HTTP/1.1\r\nHost: {self._host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        # The server may close a stalled subscriber (its sends time out): not an error.
        watched = [self.subscribed] if self.stalled else [self.subscribed, self.finished]
        for future in watched:
            if not future.done():
                future.set_exception(ConnectionError(f"connection lost: {exc!r}"))

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buffer = self._buffer
        buffer += data
        if not self._upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                self.subscribed.set_exception(ConnectionError(bytes(buffer[:200]).decode()))
                return
            del buffer[: end + 4]
            self._upgraded = True
            assert self.transport is not None
            self.transport.write(_masked_frame(0x1, SUBSCRIBE))
        offset = 0
        size = len(buffer)
        while size - offset >= 2:
            opcode = buffer[offset] & 0x0F
            fin = buffer[offset] & 0x80
            length = buffer[offset + 1] & 0x7F
            start = offset + 2
            if length == 126:
                if size - offset < 4:
                    break
                length = int.from_bytes(buffer[start : start + 2], "big")
                start += 2
            elif length == 127:
                if size - offset < 10:
                    break
                length = int.from_bytes(buffer[start : start + 8], "big")
                start += 8
            if size < start + length:
                break
            payload = bytes(buffer[start : start + length])
            offset = start + length
            self._frame(opcode, fin, payload, now)
        if offset:
            del buffer[:offset]

    def _frame(self, opcode: int, fin: int, payload: bytes, now: float) -> None:
        if opcode == 0x9:
            assert self.transport is not None
            self.transport.write(_masked_frame(0xA, payload))
            return
        if opcode == 0x8:
            assert self.transport is not None
            self.transport.close()
            return
        if opcode not in (0x0, 0x1):
            return
        if not fin:
            self._fragments.append(payload)
            return
        if self._fragments:
            payload = b"".join([*self._fragments, payload])
            self._fragments = []
        self._message(payload, now)

    def _message(self, payload: bytes, now: float) -> None:
        if not self.subscribed.done():
            if orjson.loads(payload)["type"] == "subscribed":
                self.subscribed.set_result(None)
                if self.stalled:
                    # Never reads again: the server's sends back up into its buffers.
                    assert self.transport is not None
                    self.transport.pause_reading()
            return
        tally = self.tally
        if not payload.startswith(LOG_PREFIX):
            frame = orjson.loads(payload)
            if frame["type"] == "dropped":
                tally.dropped += frame["count"]
            return
        first, final, count, sends = self._scans.scan(payload)
        histogram = tally.histogram
        if first == tally.last + 1 and final - first + 1 == count:
            tally.last = final
            tally.seen += count
            for sent, lines in sends:
                bucket = int((now - sent) * 1000 / BUCKET_MS)
                histogram[bucket] = histogram.get(bucket, 0) + lines
        else:
            for entry in orjson.loads(payload)["entries"]:
                fields = entry["fields"]
                seq = fields["seq"]
                if seq <= tally.last:
                    tally.duplicates += 1
                    continue
                tally.last = seq
                tally.seen += 1
                bucket = int((now - fields["sent"]) * 1000 / BUCKET_MS)
                histogram[bucket] = histogram.get(bucket, 0) + 1
        if tally.last >= self._expected - 1 and not self.finished.done():
            self.finished.set_result(None)


async def _worker(url: str, readers: int, stalled: int, expected: int, budget_s: float) -> None:
    loop = asyncio.get_running_loop()
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    scans = _FrameScans()
    subscribers: list[_Subscriber] = []
    errors: list[str] = []
    for index in range(readers + stalled):
        try:
            _, subscriber = await loop.create_connection(
                partial(_Subscriber, parts.path, parts.netloc, expected, index >= readers, scans),
                host,
                port,
            )
            subscribers.append(subscriber)
        except OSError as exc:
            errors.append(repr(exc))
    # A subscriber that failed before `subscribed` must not hang the run.
    await asyncio.wait([s.subscribed for s in subscribers], timeout=60)
    print("READY", flush=True)
    reading = [s for s in subscribers if not s.stalled]
    await asyncio.wait([s.finished for s in reading], timeout=budget_s)
    summary: list[dict[str, Any]] = [{"error": e} for e in errors]
    for subscriber in subscribers:
        watched = [subscriber.subscribed]
        if not subscriber.stalled:
            watched.append(subscriber.finished)
        for future in watched:
            if future.done() and future.exception() is not None:
                summary.append({"error": repr(future.exception())})
                break
        else:
            if subscriber.stalled:
                summary.append({"stalled": True})
            else:
                t = subscriber.tally
                summary.append(
                    {"seen": t.seen, "dup": t.duplicates, "dropped": t.dropped, "hist": t.histogram}
                )
        if subscriber.transport is not None:
            subscriber.transport.abort()
    print(json.dumps(summary), flush=True)


# --- orchestration -------------------------------------------------------------------

# The server under test, as `ailogs serve` runs it: uvicorn's defaults, and the
# collector tuned after start-up (without it, full collections of the start-up
# objects stall the event loop for 150-200 ms several times a minute).
SERVER_CODE = """
import uvicorn
from ailogs.api.app import create_app
from ailogs.collector import tune_for_service
from ailogs.settings import load_settings
app = create_app(load_settings(), configure_logs=False)
tune_for_service()
uvicorn.run(app, host="127.0.0.1", port={port}, log_level="warning")
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_kib(pid: int) -> int:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return int(row.split()[1])
    return 0


@dataclass
class PhaseResult:
    """What one phase measured."""

    readers: int
    stalled: int
    lines_sent: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    lost_lines: int
    duplicate_lines: int
    dropped_for_readers: int
    max_upstream_connections: int
    rss_kib: list[int] = field(default_factory=list)
    server_cpu_per_s: float = 0.0
    errors: list[str] = field(default_factory=list)


def _percentile(histogram: dict[int, int], q: float) -> float:
    total = sum(histogram.values())
    if not total:
        return float("nan")
    rank = q * total
    running = 0
    for bucket in sorted(histogram):
        running += histogram[bucket]
        if running >= rank:
            return (bucket + 1) * BUCKET_MS
    return float(max(histogram) + 1) * BUCKET_MS


async def _emit(loki: FakeLokiTail, total: int) -> None:
    per_frame = max(1, RATE * FRAME_MS // 1000)
    started = time.monotonic()
    seq = 0
    tick = 0
    while seq < total:
        tick += 1
        await asyncio.sleep(max(0.0, started + tick * FRAME_MS / 1000 - time.monotonic()))
        now_ns = time.time_ns()
        sent = time.time()
        lines = []
        for offset in range(min(per_frame, total - seq)):
            body = orjson.dumps(
                {"level": "info", "msg": "bench line", "seq": seq, "sent": sent}
            ).decode()
            lines.append(Line(LABELS, now_ns + offset, body))
            seq += 1
        await loki.push(lines)


async def _read_line(process: asyncio.subprocess.Process, timeout: float) -> str:
    assert process.stdout is not None
    raw = await asyncio.wait_for(process.stdout.readline(), timeout)
    return raw.decode().strip()


async def run_phase(stalled: int) -> PhaseResult:
    """One phase: a fresh server, SUBSCRIBERS subscribers of which `stalled` never read."""
    total = int(RATE * SECONDS)
    port = _free_port()
    async with FakeLokiTail(keep_history=False) as loki:
        env = {
            **os.environ,
            "AILOGS_LOKI_URL": loki.url,
            "AILOGS_STREAM_MAX_SUBSCRIBERS_PER_CLIENT": str(SUBSCRIBERS + 10),
            "AILOGS_STREAM_MAX_SUBSCRIBERS": str(SUBSCRIBERS + 10),
            "AILOGS_STREAM_METRICS_INTERVAL_S": "5",
            # 500 handshakes from one address in a second would trip the per-caller rate.
            "AILOGS_RATE_LIMIT_ENABLED": "false",
        }
        server = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            SERVER_CODE.format(port=port),
            env=env,
            cwd=str(ROOT),
        )
        try:
            return await _drive(loki, server.pid, port, stalled, total)
        finally:
            server.terminate()
            await server.wait()


async def _drive(
    loki: FakeLokiTail, server_pid: int, port: int, stalled: int, total: int
) -> PhaseResult:
    import httpx

    async with httpx.AsyncClient() as client:
        for _ in range(200):
            try:
                await client.get(f"http://127.0.0.1:{port}/api/v1/ai_logs/health", timeout=1)
                break
            except httpx.HTTPError:
                await asyncio.sleep(0.05)
    url = f"ws://127.0.0.1:{port}/api/v1/ai_logs/stream"
    readers = SUBSCRIBERS - stalled
    budget = SECONDS + 30
    workers = []
    for index in range(WORKERS):
        share_r = readers // WORKERS + (1 if index < readers % WORKERS else 0)
        share_s = stalled // WORKERS + (1 if index < stalled % WORKERS else 0)
        workers.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "worker",
                url,
                str(share_r),
                str(share_s),
                str(total),
                str(budget),
                stdout=asyncio.subprocess.PIPE,
                cwd=str(ROOT),
                limit=64 * 1024 * 1024,
            )
        )
    for worker in workers:
        assert await _read_line(worker, 60) == "READY"
    rss = [_rss_kib(server_pid)]
    cpu_before = _cpu_s(server_pid)
    emitter = asyncio.create_task(_emit(loki, total))
    max_connections = loki.open_connections
    while not emitter.done():
        await asyncio.sleep(1)
        max_connections = max(max_connections, loki.open_connections)
        rss.append(_rss_kib(server_pid))
    await emitter
    server_cpu = (_cpu_s(server_pid) - cpu_before) / SECONDS
    outputs = [json.loads(await _read_line(w, budget + 10)) for w in workers]
    rss.append(_rss_kib(server_pid))
    for worker in workers:
        await worker.wait()
    histogram: dict[int, int] = {}
    lost = duplicates = dropped = 0
    errors: list[str] = []
    for summary in (item for output in outputs for item in output):
        if "error" in summary:
            errors.append(summary["error"])
            continue
        if summary.get("stalled"):
            continue
        lost += total - summary["seen"]
        duplicates += summary["dup"]
        dropped += summary["dropped"]
        for bucket, count in summary["hist"].items():
            histogram[int(bucket)] = histogram.get(int(bucket), 0) + count
    return PhaseResult(
        readers=readers,
        stalled=stalled,
        lines_sent=total,
        p50_ms=_percentile(histogram, 0.50),
        p99_ms=_percentile(histogram, 0.99),
        max_ms=_percentile(histogram, 1.0),
        lost_lines=lost,
        duplicate_lines=duplicates,
        dropped_for_readers=dropped,
        max_upstream_connections=max_connections,
        rss_kib=rss,
        server_cpu_per_s=server_cpu,
        errors=errors[:5],
    )


def _report(result: PhaseResult) -> str:
    return (
        f"readers={result.readers} stalled={result.stalled} lines={result.lines_sent} "
        f"p50={result.p50_ms:.0f}ms p99={result.p99_ms:.0f}ms max={result.max_ms:.0f}ms "
        f"lost={result.lost_lines} dup={result.duplicate_lines} "
        f"dropped_for_readers={result.dropped_for_readers} "
        f"upstreams={result.max_upstream_connections} "
        f"server_cpu={result.server_cpu_per_s:.2f}s/s "
        f"rss_kib start/peak/end={result.rss_kib[0]}/{max(result.rss_kib)}/{result.rss_kib[-1]}"
    )


def test_stream_bars() -> None:
    """500 subscribers at 1,000 lines/s, then 50 of them stalled: the DESIGN bars hold."""
    baseline = asyncio.run(run_phase(stalled=0))
    print("\nstream phase 1:", _report(baseline))
    stalled = asyncio.run(run_phase(stalled=STALLED))
    print("stream phase 2:", _report(stalled))
    for result in (baseline, stalled):
        assert not result.errors, result.errors
        assert result.p99_ms < 250, _report(result)
        assert result.lost_lines == 0, _report(result)
        assert result.duplicate_lines == 0, _report(result)
        assert result.max_upstream_connections == 1, _report(result)
    # "Unchanged within 20%" with a floor of one frame period (50 ms batching jitter).
    assert stalled.p99_ms <= max(baseline.p99_ms * 1.2, baseline.p99_ms + FRAME_MS), (
        _report(baseline),
        _report(stalled),
    )
    # Bounded: the stalled clients' queues are capped, so memory stops growing.
    growth = max(stalled.rss_kib) - stalled.rss_kib[1]
    assert growth < 150 * 1024, _report(stalled)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        url, readers, stalled_n, expected, budget = sys.argv[2:7]
        try:
            import uvloop
        except ImportError:
            pass
        else:
            uvloop.install()
        asyncio.run(_worker(url, int(readers), int(stalled_n), int(expected), float(budget)))
    else:
        test_stream_bars()
