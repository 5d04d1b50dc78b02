"""Single-flight: concurrent callers of one key share one load.

The load runs in its own task, so a caller that goes away (a client that
disconnects) does not cancel the work the others wait for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")


class SingleFlight:
    """Per-process coalescing of identical concurrent work, keyed by string."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self.shared = 0

    @property
    def in_flight(self) -> int:
        """How many distinct loads run now."""
        return len(self._tasks)

    async def run(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        """The result of `load()`, run once however many callers ask at the same time."""
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(load())
            self._tasks[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        else:
            self.shared += 1
        return cast(T, await asyncio.shield(task))

    def _finished(self, key: str, task: asyncio.Task[Any]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]
        if not task.cancelled():
            task.exception()  # retrieved: no "never retrieved" warning when all waiters left
