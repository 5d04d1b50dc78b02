"""Pattern library throughput: Hyperscan block scan vs one re.search per pattern per line."""

from __future__ import annotations

import os
import random
import time

from bench_templates_corpus import mixed_lines

from ailogs.analysis.patterns import default_pattern_library

LINES = int(os.environ.get("AILOGS_BENCH_LINES", "100000"))
FAILURES = [
    "java.net.SocketTimeoutException: Read timed out",
    "openai.RateLimitError: Error code: 429 - rate_limit_exceeded",
    "OSError: [Errno 28] No space left on device",
    "Failed password for invalid user admin from 1.2.3.4 port 22 ssh2",
    "connect ECONNREFUSED 127.0.0.1:6379",
]


def _corpus() -> list[str]:
    rng = random.Random(11)
    lines = list(mixed_lines(LINES))
    for index in range(0, len(lines), 20):  # about 5% failure lines
        lines[index] = f"{lines[index][:40]} {rng.choice(FAILURES)}"
    return lines


def test_pattern_throughput_vs_re_reference() -> None:
    lines = _corpus()
    library = default_pattern_library()
    reference = library.with_engine("re")
    started = time.perf_counter()
    fast = library.match_lines(lines)
    fast_rate = len(lines) / (time.perf_counter() - started)
    sample = lines[: max(1, len(lines) // 10)]
    started = time.perf_counter()
    slow = reference.match_lines(sample)
    slow_rate = len(sample) / (time.perf_counter() - started)
    print(
        f"\npatterns ({len(library)}) on {len(lines):,} lines: hyperscan {fast_rate:,.0f} lines/s, "
        f"re reference {slow_rate:,.0f} lines/s, ratio {fast_rate / slow_rate:.0f}x"
    )
    assert fast[: len(sample)] == slow
    assert fast_rate > slow_rate
