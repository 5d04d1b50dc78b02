"""Where simulated lines go: Loki's push API (as Promtail would store them) or a file.

The Loki payload follows DESIGN.md §3: stream labels `service_name`, `level`,
`job`, `env`; structured metadata (the third element of each value) for
`correlation_id`, `conversation_id`, `workspace_id`, `trace_id`, `model`; the
line is the original JSON.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import httpx
import orjson

from ailogs.simulator.generator import SimEvent

STREAM_LABELS = ("service_name", "level", "job", "env")
METADATA_FIELDS = ("correlation_id", "conversation_id", "workspace_id", "trace_id", "model")
PUSH_PATH = "/loki/api/v1/push"
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class SimulatorPushError(RuntimeError):
    """Loki refused or never acknowledged a batch."""


class Sink(Protocol):
    """Receives batches of events in generation order."""

    def write(self, events: Sequence[SimEvent]) -> None:
        """Deliver one batch."""

    def close(self) -> None:
        """Flush and release resources."""


def push_payload(
    events: Iterable[SimEvent], *, job: str = "simulator", env: str = "dev"
) -> dict[str, Any]:
    """The JSON body of `POST /loki/api/v1/push` for these events."""
    streams: dict[tuple[tuple[str, str], ...], list[list[Any]]] = {}
    for event in events:
        labels = (
            ("service_name", event.service),
            ("level", event.level),
            ("job", job),
            ("env", env),
        )
        metadata = {
            name: str(event.fields[name]) for name in METADATA_FIELDS if event.fields.get(name)
        }
        value: list[Any] = [str(event.ts_ns), event.line()]
        if metadata:
            value.append(metadata)
        streams.setdefault(labels, []).append(value)
    return {
        "streams": [
            {"stream": dict(labels), "values": sorted(values, key=lambda v: int(v[0]))}
            for labels, values in streams.items()
        ]
    }


class JsonLinesSink:
    """Writes each event's JSON line to a file, or to stdout for `-`."""

    def __init__(self, target: str | Path) -> None:
        self._owned = str(target) != "-"
        self._stream: IO[str] = (
            Path(target).open("a", encoding="utf-8") if self._owned else sys.stdout
        )

    def write(self, events: Sequence[SimEvent]) -> None:
        """Append the lines of one batch."""
        self._stream.writelines(event.line() + "\n" for event in events)
        self._stream.flush()

    def close(self) -> None:
        """Close the file (stdout stays open)."""
        if self._owned:
            self._stream.close()


class LokiPushSink:
    """Pushes batches to Loki with the tenant header; retries 429/5xx with backoff."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        url: str,
        tenant: str | None,
        job: str = "simulator",
        env: str = "dev",
        attempts: int = 4,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._endpoint = url.rstrip("/") + PUSH_PATH
        self._headers = {"Content-Type": "application/json"}
        if tenant:
            self._headers["X-Scope-OrgID"] = tenant
        self._job = job
        self._env = env
        self._attempts = attempts
        self._sleep = sleep

    def write(self, events: Sequence[SimEvent]) -> None:
        """Push one batch; raise SimulatorPushError when Loki will not take it."""
        if not events:
            return
        body = orjson.dumps(push_payload(events, job=self._job, env=self._env))
        problem = ""
        for attempt in range(self._attempts):
            try:
                response = self._client.post(self._endpoint, content=body, headers=self._headers)
            except httpx.TransportError as exc:
                problem = f"cannot reach Loki at {self._endpoint}: {exc}"
            else:
                if response.status_code < 300:
                    return
                problem = f"Loki answered {response.status_code}: {response.text[:300]}"
                if response.status_code not in _RETRY_STATUSES:
                    break
            if attempt + 1 < self._attempts:
                self._sleep(min(8.0, 0.5 * 2**attempt))
        raise SimulatorPushError(problem)

    def close(self) -> None:
        """Nothing buffered; the caller owns the HTTP client."""


@dataclass(slots=True)
class RunStats:
    """What a run produced."""

    lines: int = 0
    anomalous: int = 0
    batches: int = 0
    by_level: dict[str, int] = field(default_factory=dict)


def run(
    events: Iterable[SimEvent],
    sink: Sink,
    *,
    batch_size: int = 500,
    realtime: bool = False,
    max_delay_s: float = 1.0,
    now_ns: Callable[[], int] = time.time_ns,
    sleep: Callable[[float], None] = time.sleep,
    on_batch: Callable[[RunStats], None] | None = None,
) -> RunStats:
    """Feed events to the sink in batches; with `realtime`, never ahead of the clock."""
    stats = RunStats()
    batch: list[SimEvent] = []

    def flush() -> None:
        if batch:
            sink.write(batch)
            stats.batches += 1
            batch.clear()
            if on_batch is not None:
                on_batch(stats)

    for event in events:
        if realtime:
            now = now_ns()
            wait_s = (event.ts_ns - now) / 1e9
            if wait_s > 0:
                # Deliver what is due once it has waited long enough, then keep pace.
                if batch and now - batch[0].ts_ns >= max_delay_s * 1e9:
                    flush()
                sleep(wait_s)
        batch.append(event)
        stats.lines += 1
        stats.anomalous += event.anomalous
        stats.by_level[event.level] = stats.by_level.get(event.level, 0) + 1
        if len(batch) >= batch_size:
            flush()
    flush()
    sink.close()
    return stats
