"""Loki's live tail (`/loki/api/v1/tail`) over WebSocket, with reconnect and resume.

Loki's tail replays an hour of history unless `start` is given, so the first
connection starts at "now". After a drop the tail reconnects with exponential
backoff and jitter and resumes from the newest timestamp it delivered; lines at
exactly that timestamp are deduplicated by (stream labels, timestamp, line), so
a subscriber never sees a line twice nor loses one at the boundary.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncGenerator, Callable, Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from ailogs.domain import LogRecord, make_record
from ailogs.errors import LokiBadQuery, LokiError, LokiUnauthorized, LokiUnavailable

log = logging.getLogger("ailogs.loki.tail")

TAIL_PATH = "/loki/api/v1/tail"
# Structured metadata names (DESIGN.md §3). Loki's tail flattens them into the
# stream labels; they are moved back into `fields` so records look the same as
# `/query_range` answers.
METADATA_KEYS = frozenset(
    {"correlation_id", "conversation_id", "workspace_id", "trace_id", "span_id", "model"}
)

# (sorted stream labels, timestamp, line): the identity of one delivered line.
LineKey = tuple[tuple[tuple[str, str], ...], int, str]


@dataclass(frozen=True, slots=True)
class DroppedEntry:
    """A line Loki could not deliver to the tail (it reports labels and time only)."""

    labels: Mapping[str, str]
    timestamp_ns: int


@dataclass(frozen=True, slots=True)
class TailBatch:
    """One frame of the tail: its records and the entries Loki says it dropped."""

    records: tuple[LogRecord, ...]
    dropped: tuple[DroppedEntry, ...] = ()


class TailState(StrEnum):
    """Connection changes a consumer may want to show."""

    CONNECTED = "connected"
    RECONNECTING = "reconnecting"


@dataclass(frozen=True, slots=True)
class TailNotice:
    """The tail connected, or lost its connection and is retrying."""

    state: TailState
    reason: str = ""
    attempt: int = 0


TailEvent = TailBatch | TailNotice


def tail_url(
    base_url: str,
    query: str,
    *,
    start_ns: int,
    delay_for_s: int = 0,
    limit: int | None = None,
) -> str:
    """The ws:// (or wss://) URL of the tail endpoint for `query` from `start_ns`."""
    if base_url.startswith("https://"):
        ws_base = "wss://" + base_url.removeprefix("https://")
    elif base_url.startswith("http://"):
        ws_base = "ws://" + base_url.removeprefix("http://")
    elif base_url.startswith(("ws://", "wss://")):
        ws_base = base_url
    else:
        raise ValueError(f"not an http(s) or ws(s) URL: {base_url!r}")
    params: dict[str, Any] = {"query": query, "start": start_ns}
    if delay_for_s:
        params["delay_for"] = delay_for_s
    if limit is not None:
        params["limit"] = limit
    return ws_base.rstrip("/") + TAIL_PATH + "?" + urlencode(params)


def parse_tail_frame(
    payload: bytes | str, *, metadata_keys: Collection[str] = METADATA_KEYS
) -> TailBatch:
    """Parse one tail frame (flat or `categorize-labels` streams) into a TailBatch."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raise LokiUnavailable("Loki's tail sent a frame that is not JSON") from None
    if not isinstance(data, dict):
        raise LokiUnavailable("Loki's tail sent a frame that is not an object")
    records: list[LogRecord] = []
    for stream in data.get("streams") or ():
        raw_labels: dict[str, str] = stream.get("stream") or {}
        labels, flat_metadata = _split_labels(raw_labels, metadata_keys)
        for value in stream.get("values") or ():
            metadata: dict[str, str] | None = flat_metadata or None
            if len(value) > 2 and value[2]:
                categorized = value[2].get("structuredMetadata")
                if categorized:
                    metadata = {**flat_metadata, **categorized}
            records.append(make_record(int(value[0]), value[1], labels, metadata))
    dropped = tuple(
        DroppedEntry(dict(item.get("labels") or {}), int(item.get("timestamp", 0)))
        for item in data.get("dropped_entries") or ()
    )
    return TailBatch(tuple(records), dropped)


def _split_labels(
    labels: dict[str, str], metadata_keys: Collection[str]
) -> tuple[dict[str, str], dict[str, str]]:
    if not any(name in metadata_keys for name in labels):
        return labels, {}
    kept = {k: v for k, v in labels.items() if k not in metadata_keys}
    moved = {k: v for k, v in labels.items() if k in metadata_keys}
    return kept, moved


def line_key(record: LogRecord) -> LineKey:
    """The identity used to deduplicate lines at the resume boundary."""
    identity = {
        **record.labels,
        **{k: str(v) for k, v in record.fields.items() if k in METADATA_KEYS},
    }
    return (tuple(sorted(identity.items())), record.timestamp_ns, record.line)


class ResumePoint:
    """The newest timestamp delivered and the lines delivered at exactly that time."""

    def __init__(self, start_ns: int) -> None:
        self.timestamp_ns = start_ns
        self._at_boundary: set[LineKey] = set()

    def admit(self, batch: TailBatch) -> TailBatch:
        """Drop records already delivered (older than, or seen at, the boundary)."""
        fresh: list[LogRecord] = []
        for record in batch.records:
            stamp = record.timestamp_ns
            if stamp < self.timestamp_ns:
                continue
            key = line_key(record)
            if stamp == self.timestamp_ns:
                if key in self._at_boundary:
                    continue
                self._at_boundary.add(key)
            else:
                self.timestamp_ns = stamp
                self._at_boundary = {key}
            fresh.append(record)
        if len(fresh) == len(batch.records):
            return batch
        return TailBatch(tuple(fresh), batch.dropped)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with full jitter, capped."""

    initial_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before reconnect number `attempt` (1-based)."""
        ceiling = min(self.max_s, self.initial_s * self.factor ** max(0, attempt - 1))
        return self.rng.uniform(ceiling / 2, ceiling)


class LokiTail:
    """Opens tails on one Loki; each `tail()` call is an independent upstream."""

    def __init__(
        self,
        base_url: str,
        *,
        tenant: str | None = None,
        delay_for_s: int = 0,
        limit: int | None = None,
        open_timeout_s: float = 10.0,
        max_frame_bytes: int = 32 * 1024 * 1024,
        backoff: Backoff | None = None,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        # Validates the URL now rather than at the first subscriber.
        tail_url(base_url, "{}", start_ns=0)
        self._base_url = base_url
        self.tenant = tenant
        self._delay_for_s = delay_for_s
        self._limit = limit
        self._open_timeout_s = open_timeout_s
        self._max_frame_bytes = max_frame_bytes
        self._backoff = backoff or Backoff()
        self._clock_ns = clock_ns

    async def tail(
        self, query: str, *, tenant: str | None = None, start_ns: int | None = None
    ) -> AsyncGenerator[TailEvent, None]:
        """Yield batches of new lines forever, reconnecting after failures.

        Raises LokiBadQuery or LokiUnauthorized when Loki refuses the tail itself
        (retrying cannot help); every other failure is retried with backoff.
        """
        resume = ResumePoint(start_ns if start_ns is not None else self._clock_ns())
        scope = tenant if tenant is not None else self.tenant
        attempt = 0
        while True:
            url = tail_url(
                self._base_url,
                query,
                start_ns=resume.timestamp_ns,
                delay_for_s=self._delay_for_s,
                limit=self._limit,
            )
            reason = ""
            try:
                async with self._open(url, scope) as connection:
                    attempt = 0
                    yield TailNotice(TailState.CONNECTED)
                    async for message in connection:
                        batch = resume.admit(parse_tail_frame(message))
                        if batch.records or batch.dropped:
                            yield batch
                reason = "Loki closed the tail"
            except InvalidStatus as exc:
                status = exc.response.status_code
                body = (
                    exc.response.body.decode("utf-8", "replace")[:300] if exc.response.body else ""
                )
                if status == 400:
                    raise LokiBadQuery(f"Loki rejected the tail query: {body}") from exc
                if status in (401, 403):
                    raise LokiUnauthorized(f"Loki refused the tail ({status}): {body}") from exc
                reason = f"Loki answered {status}"
            except (OSError, InvalidHandshake, ConnectionClosed, TimeoutError) as exc:
                reason = f"{type(exc).__name__}"
            except LokiError as exc:
                reason = exc.message
            attempt += 1
            log.warning("loki tail lost", extra={"reason": reason, "attempt": attempt})
            yield TailNotice(TailState.RECONNECTING, reason, attempt)
            await asyncio.sleep(self._backoff.delay(attempt))

    def _open(self, url: str, tenant: str | None) -> connect:
        headers = {"X-Scope-OrgID": tenant} if tenant else {}
        return connect(
            url,
            additional_headers=headers,
            open_timeout=self._open_timeout_s,
            max_size=self._max_frame_bytes,
            compression=None,
            proxy=None,
            user_agent_header="ailogs",
        )


__all__ = [
    "Backoff",
    "DroppedEntry",
    "LokiTail",
    "ResumePoint",
    "TailBatch",
    "TailEvent",
    "TailNotice",
    "TailState",
    "line_key",
    "parse_tail_frame",
    "tail_url",
]
