"""One upstream tail as the hub sees it: its key, subscribers, counters and encoding."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from ailogs.domain import LogRecord

if TYPE_CHECKING:
    from ailogs.services.stream_hub import StreamSession

_LOG_PREFIX = b'{"type":"log","entries":['
_LOG_SUFFIX = b"]}"


@dataclass(frozen=True, slots=True)
class UpstreamKey:
    """A tenant and the services a tail selects; no services means all of them."""

    tenant: str | None
    services: frozenset[str]

    def covers(self, services: frozenset[str]) -> bool:
        """True when this tail delivers every line of `services` (empty: all)."""
        if not self.services:
            return True
        return bool(services) and services <= self.services

    @property
    def breadth(self) -> float:
        """How much a tail reads: the tail of all services is the widest."""
        return float(len(self.services)) if self.services else float("inf")


@dataclass(frozen=True, slots=True)
class Rates:
    """Lines and errors per second per service over the last metrics window."""

    window_s: float
    services: dict[str, dict[str, float]]


class EncodedEntries:
    """The public entry of each record of a batch, JSON-encoded at most once."""

    def __init__(self, records: Sequence[LogRecord], matches: Sequence[tuple[str, ...]]) -> None:
        self._records = records
        self._matches = matches
        self._encoded: list[bytes | None] = [None] * len(records)

    def get(self, index: int) -> bytes:
        """The encoded entry of record `index`."""
        done = self._encoded[index]
        if done is None:
            entry: dict[str, Any] = self._records[index].to_entry()
            if index < len(self._matches) and self._matches[index]:
                entry["patterns"] = list(self._matches[index])
            done = orjson.dumps(entry)
            self._encoded[index] = done
        return done


def encode_log_frame(entries: EncodedEntries, chosen: Sequence[int]) -> tuple[str, int]:
    """A `log` frame with the chosen entries, and how many lines it carries."""
    body = _LOG_PREFIX + b",".join(entries.get(i) for i in chosen) + _LOG_SUFFIX
    return body.decode(), len(chosen)


@dataclass(eq=False)
class Upstream:
    """An open tail: its LogQL, the sessions it feeds and its per-service counters."""

    key: UpstreamKey
    query: str
    sessions: set[StreamSession] = field(default_factory=set)
    task: asyncio.Task[None] | None = None
    _lines: Counter[str] = field(default_factory=Counter)
    _errors: Counter[str] = field(default_factory=Counter)
    since: float = field(default_factory=time.monotonic)

    def count(self, records: Sequence[LogRecord]) -> None:
        """Add a batch to the per-service counters."""
        lines = self._lines
        errors = self._errors
        for record in records:
            lines[record.service] += 1
            if record.is_error:
                errors[record.service] += 1

    def encoder(
        self, records: Sequence[LogRecord], matches: Sequence[tuple[str, ...]]
    ) -> EncodedEntries:
        """Lazy encoder of a batch's entries, shared by every subscriber."""
        return EncodedEntries(records, matches)

    def take_rates(self, now: float) -> Rates:
        """Rates since the last call; resets the counters."""
        window = max(now - self.since, 1e-9)
        services = {
            name: {
                "lines_per_s": round(count / window, 3),
                "errors_per_s": round(self._errors.get(name, 0) / window, 3),
            }
            for name, count in self._lines.items()
        }
        self._lines.clear()
        self._errors.clear()
        self.since = now
        return Rates(round(window, 3), services)
