"""A subscriber's bounded outbox: the hub puts frames without ever waiting.

Two lanes: control frames (alerts, metrics, errors, pongs) and log frames. When
the log lane holds more than its line budget the oldest log frames are dropped
and counted; the writer then sends a `dropped` frame before the next logs.
Alerts live in the control lane, so logs are always dropped first.

Log frames are paced: a writer flushes at most once per `min_flush_interval_s`,
taking everything that queued meanwhile as one frame. At high rates that turns
many small sends per subscriber into few larger ones (the send is what costs,
per subscriber); a lone line after a quiet spell still goes out at once.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from ailogs.services.stream_frames import CloseReason, DropSource, ServerFrame, encode

_LOG_PREFIX = '{"type":"log","entries":['
_LOG_SUFFIX = "]}"

# Dropped lines are reported through this hook (metrics).
DropObserver = Callable[[int], None]


class Outbox:
    """Bounded frame queue of one subscriber. `put_*` never block; `take` waits."""

    def __init__(
        self,
        *,
        max_log_lines: int,
        max_control_frames: int = 256,
        on_drop: DropObserver | None = None,
        min_flush_interval_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        merger: FrameMerger | None = None,
    ) -> None:
        self._max_log_lines = max_log_lines
        self._min_flush_interval_s = min_flush_interval_s
        self._clock = clock
        self._merger = merger or FrameMerger()
        # When frames were last taken, and since when the writer has been sending them.
        self.flushed_at = clock()
        self.sending_since: float | None = None
        self._max_control = max_control_frames
        self._logs: deque[tuple[str, int]] = deque()
        self._log_lines = 0
        self._control: deque[tuple[ServerFrame, str]] = deque()
        self._pending_dropped = 0
        self.dropped_total = 0
        self._ready = asyncio.Event()
        self._on_drop = on_drop
        self.close_reason: CloseReason | None = None

    @property
    def queued_lines(self) -> int:
        """Log lines waiting to be sent."""
        return self._log_lines

    @property
    def closed(self) -> bool:
        """True once the session is being closed by the server."""
        return self.close_reason is not None

    def put_log(self, payload: str, lines: int) -> None:
        """Queue a `log` frame carrying `lines` lines; drop the oldest ones on overflow."""
        if self.closed:
            return
        self._logs.append((payload, lines))
        self._log_lines += lines
        dropped = 0
        # Keep at least the newest frame, even when it alone exceeds the budget.
        while self._log_lines > self._max_log_lines and len(self._logs) > 1:
            _, count = self._logs.popleft()
            self._log_lines -= count
            dropped += count
        if dropped:
            self._count_dropped(dropped)
        self._ready.set()

    def put_control(self, kind: ServerFrame, payload: str) -> None:
        """Queue an alert, metrics, error or pong frame."""
        if self.closed:
            return
        if len(self._control) >= self._max_control:
            self._evict_control()
        self._control.append((kind, payload))
        self._ready.set()

    def report_loki_dropped(self, count: int) -> None:
        """Tell the subscriber that Loki itself dropped `count` lines."""
        self.put_control(
            ServerFrame.DROPPED, encode(ServerFrame.DROPPED, count=count, source=DropSource.LOKI)
        )

    def close(self, reason: CloseReason, final_frame: str | None = None) -> None:
        """End the session after `final_frame`; queued logs are discarded."""
        if self.closed:
            return
        self._logs.clear()
        self._log_lines = 0
        if final_frame is not None:
            self._control.append((ServerFrame.ERROR, final_frame))
        self.close_reason = reason
        self._ready.set()

    async def take(self) -> list[str]:
        """Wait for frames and return all queued ones, control first.

        Log frames wait out the pacing interval (control frames do not). Returns
        an empty list only when the session is closed and drained. The caller
        calls `sent()` once it has written them.
        """
        while True:
            if self._logs and not self._control and not self.closed:
                wait = self.flushed_at + self._min_flush_interval_s - self._clock()
                if wait > 0:
                    await asyncio.sleep(wait)
            frames = self._drain()
            if frames or self.closed:
                self.flushed_at = self.sending_since = self._clock()
                return frames
            self._ready.clear()
            await self._ready.wait()

    def sent(self) -> None:
        """The writer finished sending what `take` returned."""
        self.sending_since = None

    def send_stalled(self, now: float, limit_s: float) -> bool:
        """True when one send has been blocked past `limit_s`: the client stopped reading."""
        return self.sending_since is not None and now - self.sending_since > limit_s

    def idle(self, now: float, quiet_s: float) -> bool:
        """True when nothing was flushed for `quiet_s` and nothing waits."""
        return (
            now - self.flushed_at >= quiet_s
            and self.sending_since is None
            and not self._logs
            and not self._control
        )

    def _drain(self) -> list[str]:
        frames = [payload for _, payload in self._control]
        self._control.clear()
        if self._pending_dropped:
            frames.append(
                encode(
                    ServerFrame.DROPPED,
                    count=self._pending_dropped,
                    source=DropSource.SLOW_CONSUMER,
                )
            )
            self._pending_dropped = 0
        if len(self._logs) == 1:
            frames.append(self._logs[0][0])
        elif self._logs:
            frames.append(self._merger.merge([payload for payload, _ in self._logs]))
        self._logs.clear()
        self._log_lines = 0
        return frames

    def _evict_control(self) -> None:
        # Stale metrics go first; an alert is evicted only when nothing else is left.
        for index, (kind, _) in enumerate(self._control):
            if kind is not ServerFrame.ALERT:
                del self._control[index]
                return
        self._control.popleft()

    def _count_dropped(self, lines: int) -> None:
        self._pending_dropped += lines
        self.dropped_total += lines
        if self._on_drop is not None:
            self._on_drop(lines)


class FrameMerger:
    """Merges a writer's queued log frames; one is shared by all outboxes of a hub.

    Subscribers with the same filter queue the very same frame objects, so when
    they fall behind together each would build the same merged frame: the first
    builds it and the others reuse it (one string instead of hundreds).
    """

    def __init__(self, max_entries: int = 64) -> None:
        self._max_entries = max_entries
        # Keyed by the identities of the merged frames; the value keeps them alive,
        # so an identity cannot be reused by another frame while it is cached.
        self._merged: dict[tuple[int, ...], tuple[tuple[str, ...], str]] = {}

    def merge(self, payloads: list[str]) -> str:
        """The `log` frame carrying the entries of `payloads`, in order."""
        key = tuple(map(id, payloads))
        known = self._merged.get(key)
        if known is not None:
            return known[1]
        merged = merge_log_frames(payloads)
        if len(self._merged) >= self._max_entries:
            self._merged.clear()
        self._merged[key] = (tuple(payloads), merged)
        return merged


def merge_log_frames(payloads: list[str]) -> str:
    """One `log` frame carrying the entries of several, in order.

    A writer that fell behind sends what queued up as one message: fewer, larger
    sends let a busy server catch up instead of falling further behind.
    """
    start = len(_LOG_PREFIX)
    end = -len(_LOG_SUFFIX)
    return _LOG_PREFIX + ",".join(p[start:end] for p in payloads) + _LOG_SUFFIX
