"""Real Redis for tests: the shared server under a per-test prefix, and a private
server a test may kill. Imported by the conftest files of the suites that need it.

Under `CI=true` a missing Redis fails the run: it is part of the contract.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from tests.conftest import require_service

REDIS_URL = os.environ.get("AILOGS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def fast_failing_client(url: str) -> Redis:
    """A client that fails at once when the server is gone (no retry loop)."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=20,
        timeout=2.0,
        socket_timeout=1.0,
        socket_connect_timeout=0.5,
        retry=Retry(NoBackoff(), 0),
    )
    return Redis.from_pool(pool)


def redis_unavailable(reason: str) -> None:
    """Fail under CI (the server is part of the contract), else skip."""
    require_service(False, f"Redis ({reason})")


async def delete_prefix(client: Redis, prefix: str) -> None:
    """SCAN + DEL every key under `prefix` (never FLUSHDB: the server is shared)."""
    async for key in client.scan_iter(match=f"{prefix}*", count=500):
        await client.delete(key)


@pytest.fixture
def key_prefix() -> str:
    """A key prefix no other test run uses."""
    return f"ailogs-test-{uuid.uuid4().hex}:"


@pytest.fixture
async def redis_client(key_prefix: str) -> AsyncIterator[Redis]:
    """The shared Redis; every key under this test's prefix is deleted afterwards."""
    client = fast_failing_client(REDIS_URL)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        redis_unavailable(repr(exc))
    yield client
    await delete_prefix(client, key_prefix)
    await client.aclose()


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisProcess:
    """A private redis-server the test may start and kill at will."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        binary = shutil.which("redis-server")
        if binary is None:
            redis_unavailable("redis-server is not installed")
            return
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        self._process = subprocess.Popen(
            [*command, "--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        pytest.fail(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        """Kill the server and wait for it to exit."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=5)
            self._process = None


@pytest.fixture
def private_redis() -> Iterator[RedisProcess]:
    """A second redis-server on a free port, started; killed at teardown."""
    server = RedisProcess(free_port())
    server.start()
    yield server
    server.stop()
