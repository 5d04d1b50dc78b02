"""GET /analyze end to end over ~100,000 respx-served lines (bar: under 2 s).

The lines are a seeded Train-Ticket-like incident (baseline + incident windows,
~100k records together). Loki is a respx route that pages them exactly as Loki
would ([start, end), limit, direction); its answers are rendered once and
memoised so the timed runs measure ailogs, not the fake.

    .venv/bin/pytest benchmarks/test_analyze_api.py -q -s
"""

from __future__ import annotations

import bisect
import statistics
import sys
import time
from pathlib import Path

import httpx
import orjson
import respx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from trainticket_sim import FaultKind, generate

from ailogs.api.app import create_app
from ailogs.domain import LogRecord, format_timestamp
from ailogs.settings import LokiSettings, Settings

LOKI = "http://loki.bench:3100"
ROUNDS = 3


class PagedLoki:
    """query_range over a fixed, time-sorted set of records; answers memoised."""

    def __init__(self, records: list[LogRecord]) -> None:
        self.records = sorted(records, key=lambda r: r.timestamp_ns)
        self.stamps = [r.timestamp_ns for r in self.records]
        self.memo: dict[tuple[str, ...], bytes] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        key = (params["start"], params["end"], params.get("limit", "100"), params["direction"])
        body = self.memo.get(key)
        if body is None:
            body = self.memo[key] = self.render(*key)
        return httpx.Response(200, content=body)

    def render(self, start: str, end: str, limit: str, direction: str) -> bytes:
        lo = bisect.bisect_left(self.stamps, int(start))
        hi = bisect.bisect_left(self.stamps, int(end))
        chosen = self.records[lo:hi]
        chosen = chosen[: int(limit)] if direction == "forward" else chosen[-int(limit) :]
        streams: dict[tuple[tuple[str, str], ...], list[list[str]]] = {}
        for record in chosen:
            labels = dict(record.labels) or {"service_name": record.service, "level": record.level}
            streams.setdefault(tuple(sorted(labels.items())), []).append(
                [str(record.timestamp_ns), record.line]
            )
        result = [{"stream": dict(k), "values": v} for k, v in streams.items()]
        return orjson.dumps(
            {"status": "success", "data": {"resultType": "streams", "result": result}}
        )


async def test_analyze_100k_lines_under_two_seconds() -> None:
    scenario = generate(42, FaultKind.EXCEPTION, rate_per_s=7.4, parents=True, durations=True)
    records = [*scenario.baseline, *scenario.current]
    fake = PagedLoki(records)
    window = scenario.current_window
    params = {
        "start": format_timestamp(window.start_ns),
        "end": format_timestamp(window.end_ns),
        "baseline_start": format_timestamp(scenario.baseline_window.start_ns),
        "baseline_end": format_timestamp(scenario.baseline_window.end_ns),
    }
    app = create_app(Settings(loki=LokiSettings(url=LOKI, tenant="bench")), configure_logs=False)
    samples: list[float] = []
    async with app.router.lifespan_context(app):
        with respx.mock(base_url=LOKI, assert_all_called=False) as loki:
            loki.get("/loki/api/v1/query_range").mock(side_effect=fake)
            loki.route(host="bench").pass_through()
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://bench", timeout=60
            ) as api:
                for round_ in range(ROUNDS + 1):
                    started = time.perf_counter()
                    response = await api.get("/api/v1/ai_logs/analyze", params=params)
                    elapsed = time.perf_counter() - started
                    assert response.status_code == 200, response.text
                    if round_:  # the first round fills the fake's memo
                        samples.append(elapsed)
    body = response.json()
    lines = body["stats"]["lines"] + body["stats"]["baseline_lines"]
    assert lines == len(records)
    assert body["correlation"]["suspects"][0]["service"] == scenario.root_cause
    p50 = statistics.median(samples)
    print(f"\n/analyze over {lines} lines: p50 {p50:.2f} s (bar: < 2 s), runs {samples}")
    assert p50 < 2.0
