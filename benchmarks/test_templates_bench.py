"""Template mining: throughput and memory vs drain3, grouping accuracy vs drain3.

`AILOGS_BENCH_LINES` sets the generated line count (default 100,000; the bar
is stated for 1,000,000). Run with `-s` to see the figures.
"""

from __future__ import annotations

import logging
import os
import time
import tracemalloc
from collections.abc import Callable, Iterable
from itertools import islice

from bench_templates_corpus import grouping_accuracy, load_samples, mixed_lines
from drain3 import TemplateMiner as Drain3Miner

from ailogs.analysis.templates import BATCH_LINES, TemplateMiner, mine_templates

LINES = int(os.environ.get("AILOGS_BENCH_LINES", "100000"))
logging.getLogger("drain3").setLevel(logging.WARNING)


def _ours(lines: Iterable[str]) -> None:
    # Batches of BATCH_LINES, as `mine_templates` and the CLI feed the miner;
    # each batch's lines and results are held while it is mined, and counted.
    miner = TemplateMiner()
    source = iter(lines)
    while batch := list(islice(source, BATCH_LINES)):
        miner.add_batch(batch)


def _drain3(lines: Iterable[str]) -> None:
    miner = Drain3Miner()
    for line in lines:
        miner.add_log_message(line)


def _rate(mine: Callable[[Iterable[str]], None], lines: list[str]) -> float:
    started = time.perf_counter()
    mine(lines)
    return len(lines) / (time.perf_counter() - started)


def _peak_bytes(mine: Callable[[Iterable[str]], None]) -> int:
    # Lines are generated on the fly so only the miner's own memory counts.
    tracemalloc.start()
    mine(mixed_lines(LINES))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_mining_throughput_and_memory_vs_drain3() -> None:
    lines = list(mixed_lines(LINES))
    ours = _rate(_ours, lines)
    theirs = _rate(_drain3, lines)
    ours_peak = _peak_bytes(_ours)
    theirs_peak = _peak_bytes(_drain3)
    print(
        f"\ntemplates on {LINES:,} lines: ailogs {ours:,.0f} lines/s, drain3 {theirs:,.0f} "
        f"lines/s, ratio {ours / theirs:.2f}x; peak memory ailogs {ours_peak / 1e3:,.0f} kB, "
        f"drain3 {theirs_peak / 1e3:,.0f} kB"
    )
    assert ours > theirs


def test_grouping_accuracy_vs_drain3() -> None:
    ours_total = theirs_total = 0.0
    samples = load_samples()
    for name, (truth, lines) in samples.items():
        ours = grouping_accuracy(truth, [tid for tid, _ in mine_templates(lines)])
        drain = Drain3Miner()
        theirs = grouping_accuracy(
            truth, [str(drain.add_log_message(line)["cluster_id"]) for line in lines]
        )
        ours_total += ours
        theirs_total += theirs
        print(f"\n{name:10s} ailogs {ours:.3f} drain3 {theirs:.3f}", end="")
    count = len(samples)
    print(f"\naverage    ailogs {ours_total / count:.3f} drain3 {theirs_total / count:.3f}")
    assert ours_total >= theirs_total
