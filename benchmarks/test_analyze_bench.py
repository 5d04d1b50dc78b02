"""analyze_records over ~100,000 records (the /analyze budget is 2 s end to end).

Run: `.venv/bin/pytest benchmarks/test_analyze_bench.py -q` or
`.venv/bin/python benchmarks/test_analyze_bench.py` for a per-stage breakdown.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from trainticket_sim import FaultKind, Scenario, generate

from ailogs.analysis.engine import analyze_records
from ailogs.analysis.patterns import default_pattern_library


def scenario_100k() -> Scenario:
    """About 100,000 records of a Train-Ticket-like incident (seeded)."""
    return generate(42, FaultKind.EXCEPTION, rate_per_s=7.4, parents=True, durations=True)


def test_analyze_100k_records(benchmark: Any) -> None:
    scenario = scenario_100k()
    library = default_pattern_library()
    total = len(scenario.current) + len(scenario.baseline)
    assert 90_000 <= total <= 110_000

    def run() -> Any:
        return analyze_records(
            scenario.current,
            scenario.baseline,
            library=library,
            current_window=scenario.current_window,
            baseline_window=scenario.baseline_window,
        )

    report = benchmark.pedantic(run, rounds=2, iterations=1)
    assert report.correlation.suspects[0].service == scenario.root_cause


def main() -> None:
    """Print the time of each stage on ~100k records."""
    from ailogs.analysis.anomalies import template_statuses
    from ailogs.analysis.correlation import correlate_window
    from ailogs.analysis.patterns import detect_patterns
    from ailogs.analysis.templates import TemplateMiner

    scenario = scenario_100k()
    library = default_pattern_library()
    windows = {
        "current_window": scenario.current_window,
        "baseline_window": scenario.baseline_window,
    }
    print(f"records: {len(scenario.current) + len(scenario.baseline)}")
    stages = {
        "patterns": lambda: detect_patterns(scenario.current, library),
        "templates": lambda: template_statuses(
            scenario.current, scenario.baseline, miner_factory=TemplateMiner, **windows
        ),
        "correlation": lambda: correlate_window(scenario.current, scenario.baseline, **windows),
        "analyze_records": lambda: analyze_records(
            scenario.current, scenario.baseline, library=library, **windows
        ),
    }
    for name, stage in stages.items():
        started = time.perf_counter()
        stage()
        print(f"{name:16s} {time.perf_counter() - started:.3f} s")


if __name__ == "__main__":
    main()
