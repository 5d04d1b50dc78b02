"""Export throughput and memory: `python benchmarks/bench_export.py --lines 1000000`.

Loki is respx-served from a formula (tests/services/fake_loki_pages.py), so the
figure is ailogs' own cost: paging, parsing Loki's JSON, redaction, encoding.
`make bench` runs the small pytest variant (`AILOGS_BENCH_EXPORT_LINES`, default
100,000); the bars are measured with the script on 1,000,000 lines.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import respx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.services.fake_loki_pages import BASE_NS, FakeLokiPages

from ailogs.analysis.redaction import Redactor
from ailogs.collector import tune_for_service
from ailogs.domain import Direction, Mode, QuerySpec, TimeWindow
from ailogs.loki import LokiClient
from ailogs.services.export import ExportFormat, open_export
from ailogs.services.query import QueryScope

LOKI = "http://loki.bench:3100"
STREAMS = 20


@dataclass
class ExportRun:
    lines: int
    bytes: int
    seconds: float
    cpu_seconds: float
    loki_cpu_seconds: float
    requests: int
    status: bytes

    @property
    def lines_per_s(self) -> float:
        return self.lines / self.seconds


async def run_export(
    lines: int, per_timestamp: int, fmt: ExportFormat = ExportFormat.NDJSON
) -> ExportRun:
    """Export `lines` lines, `per_timestamp` of them sharing each nanosecond."""
    per_stream = max(1, per_timestamp // STREAMS)
    fake = FakeLokiPages(
        timestamps=lines // (per_stream * STREAMS), streams=STREAMS, per_stream=per_stream
    )
    spec = QuerySpec(
        mode=Mode.TROUBLESHOOT,
        window=TimeWindow(BASE_NS, fake.timestamp(fake.timestamps)),
        direction=Direction.FORWARD,
    )
    loki = LokiClient(LOKI, retry_attempts=1)
    total_lines = 0
    total_bytes = 0
    last = b""
    with respx.mock(base_url=LOKI, assert_all_called=False) as router:
        router.get(path__regex=r"/loki/api/v1/(query_range|series)").mock(side_effect=fake)
        started = time.perf_counter()
        cpu_started = time.process_time()
        stream = await open_export(
            spec,
            '{service_name=~".+"}',
            fmt,
            loki=loki,
            scope=QueryScope(loki_max_entries=5000),
            max_lines=10_000_000,
            page_size=5000,
            redact=Redactor().redact_many,
        )
        async for chunk in stream:
            total_bytes += len(chunk)
            if fmt is ExportFormat.NDJSON:
                total_lines += chunk.count(b"\n")
            last = chunk
            router.reset()  # respx keeps every call; the benchmark must not
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
    await loki.aclose()
    return ExportRun(
        total_lines - 1,
        total_bytes,
        seconds,
        cpu_seconds,
        fake.cpu_s,
        fake.requests,
        last.strip(),
    )


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--per-timestamp", type=int, default=10_000)
    args = parser.parse_args()
    before = peak_rss_mb()
    tune_for_service()  # the collector as `ailogs serve` sets it
    run = asyncio.run(run_export(args.lines, args.per_timestamp))
    print(f"lines exported      {run.lines:,} (expected {args.lines:,})")
    print(f"lines per timestamp {args.per_timestamp:,}")
    print(f"seconds             {run.seconds:.2f}")
    print(f"CPU seconds         {run.cpu_seconds:.2f}")
    print(f"lines/s (wall)      {run.lines_per_s:,.0f}")
    print(f"lines/s (CPU)       {run.lines / run.cpu_seconds:,.0f}")
    own = run.cpu_seconds - run.loki_cpu_seconds
    print(f"fake Loki CPU s     {run.loki_cpu_seconds:.2f} (generating pages)")
    print(f"lines/s (ailogs CPU, without the fake Loki) {run.lines / own:,.0f}")
    print(f"MB streamed         {run.bytes / 1e6:,.1f}")
    print(f"Loki requests       {run.requests}")
    print(f"peak RSS MB         {peak_rss_mb():.1f} (at start {before:.1f})")
    print(f"status              {run.status.decode()}")


if __name__ == "__main__" and os.environ.get("PYTEST_CURRENT_TEST") is None:
    main()
