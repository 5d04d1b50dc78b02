"""`make bench`: export throughput on a short run (AILOGS_BENCH_EXPORT_LINES, default 100,000).

The bars (1,000,000 lines at >= 100,000 lines/s, < 200 MB) are measured with
`python benchmarks/bench_export.py --lines 1000000`.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_export import run_export

LINES = int(os.environ.get("AILOGS_BENCH_EXPORT_LINES", "100000"))


def test_export_streams_every_line_once_with_10000_lines_per_nanosecond() -> None:
    run = asyncio.run(run_export(LINES, 10_000))
    assert run.lines == LINES
    assert b'"complete":true' in run.status
    print(f"\nexport: {run.lines:,} lines, {run.lines / run.cpu_seconds:,.0f} lines/s CPU")
