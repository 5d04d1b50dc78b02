"""A Loki stand-in for paging tests: serves `/query_range` and `/series` like Loki.

Lines are generated from a formula, never stored, so a million-line dataset costs
no memory: at each of `timestamps` instants, each of `streams` streams holds
`per_stream` lines. Loki's semantics are kept where paging depends on them:
`[start, end)`, the earliest (forward) or newest (backward) `limit` entries,
exact-match selectors select one stream, and ties at one nanosecond come back in
an order unrelated to ailogs' own (reversed stream order).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import httpx
import orjson

BASE_NS = 1_795_000_000_000_000_000
_EQUALITY = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass
class FakeLokiPages:
    """Formula-generated streams; counts the requests it served."""

    timestamps: int
    streams: int
    per_stream: int
    step_ns: int = 1_000_000
    requests: int = 0
    # CPU seconds spent generating answers (what a real Loki would spend, not ailogs).
    cpu_s: float = 0.0
    _fragments: dict[tuple[int, int], bytes] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.timestamps * self.streams * self.per_stream

    def labels(self, stream: int) -> dict[str, str]:
        return {"service_name": f"svc-{stream % 3}", "level": "info", "pod": f"p{stream:04d}"}

    def line(self, k: int, stream: int, i: int) -> str:
        # The text does not depend on k: a line is unique by (stream, timestamp, text).
        return (
            f'{{"level":"info","service":"svc-{stream % 3}","msg":"handled request {i} of pod '
            f'{stream}","duration_ms":{i % 97},"correlation_id":"c-{stream}-{i}"}}'
        )

    def _fragment(self, stream: int, i: int) -> bytes:
        """`,"<line>",{metadata}]` of one value, encoded once."""
        key = (stream, i)
        cached = self._fragments.get(key)
        if cached is None:
            line = orjson.dumps(self.line(0, stream, i))
            cached = b"," + line + b',{"structuredMetadata":{"trace_id":"t-%d"}}]' % stream
            self._fragments[key] = cached
        return cached

    def timestamp(self, k: int) -> int:
        return BASE_NS + k * self.step_ns

    def _selected(self, query: str) -> list[int]:
        selector = query[: query.index("}") + 1]
        wanted = dict(_EQUALITY.findall(selector))
        pod = wanted.get("pod")
        chosen = range(self.streams)
        if pod is not None:
            chosen = range(int(pod[1:]), int(pod[1:]) + 1)
        return [s for s in chosen if s < self.streams]

    def _ks(self, start: int, end: int) -> range:
        first = max(0, -(-(start - BASE_NS) // self.step_ns))
        last = min(self.timestamps, -(-(end - BASE_NS) // self.step_ns))
        return range(first, max(first, last))

    def query_range(self, params: httpx.QueryParams) -> bytes:
        start, end = int(params["start"]), int(params["end"])
        limit = int(params.get("limit", 100))
        backward = params.get("direction", "backward") == "backward"
        selected = self._selected(params["query"])
        ks = self._ks(start, end)
        per_stream: dict[int, list[bytes]] = {}
        taken = 0
        for k in reversed(ks) if backward else ks:
            ts = b'["%d"' % self.timestamp(k)
            for stream in reversed(selected):
                values = per_stream.setdefault(stream, [])
                for i in range(self.per_stream):
                    if taken == limit:
                        break
                    values.append(ts + self._fragment(stream, i))
                    taken += 1
            if taken == limit:
                break
        result = b",".join(
            b'{"stream":'
            + orjson.dumps(self.labels(stream))
            + b',"values":['
            + b",".join(values)
            + b"]}"
            for stream, values in per_stream.items()
            if values
        )
        return b'{"status":"success","data":{"resultType":"streams","result":[' + result + b"]}}"

    def series(self, params: httpx.QueryParams) -> bytes:
        start, end = int(params["start"]), int(params["end"])
        alive = bool(self._ks(start, end))
        data = [self.labels(s) for s in range(self.streams)] if alive else []
        return orjson.dumps({"status": "success", "data": data})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        started = time.process_time()
        if request.url.path.endswith("/series"):
            body = self.series(request.url.params)
        else:
            body = self.query_range(request.url.params)
        self.cpu_s += time.process_time() - started
        return httpx.Response(200, content=body)
