"""An in-memory upstream for the stream hub: tests push batches, it records opens and closes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

from ailogs.loki.tail import TailEvent


@dataclass
class InMemoryTailSource:
    """A `TailSource` whose tails yield whatever `push` puts in their query's queue."""

    opened: list[tuple[str, str | None]] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    _queues: dict[str, asyncio.Queue[TailEvent | BaseException]] = field(default_factory=dict)

    def _queue(self, query: str) -> asyncio.Queue[TailEvent | BaseException]:
        return self._queues.setdefault(query, asyncio.Queue())

    async def tail(
        self, query: str, *, tenant: str | None = None
    ) -> AsyncGenerator[TailEvent, None]:
        """Yield the events pushed for `query` until the consumer stops."""
        self.opened.append((query, tenant))
        queue = self._queue(query)
        try:
            while True:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.closed.append(query)

    def push(self, query: str, event: TailEvent | BaseException) -> None:
        """Deliver an event (or raise an error) on the tail of `query`."""
        self._queue(query).put_nowait(event)

    @property
    def open_queries(self) -> list[str]:
        """Queries opened and not yet closed."""
        remaining = [query for query, _ in self.opened]
        for query in self.closed:
            remaining.remove(query)
        return remaining
