"""Root-cause ranking on generated Train-Ticket-like faults: hit@1 / hit@3 vs a naive ranking.

Run: `.venv/bin/python benchmarks/bench_root_cause.py [N_SEEDS]`.
The naive ranking orders services by their count of error lines never seen in
the baseline, which is what an error-count dashboard would suggest.
"""

from __future__ import annotations

import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from trainticket_sim import FaultKind, Scenario, generate

from ailogs.analysis.correlation import correlate_window
from ailogs.analysis.suspects import error_signature


def naive_ranking(scenario: Scenario) -> list[str]:
    """Services by count of new error lines (signature unseen in baseline)."""
    known = {(r.service, error_signature(r.message)) for r in scenario.baseline if r.is_error}
    counts: Counter[str] = Counter(
        r.service
        for r in scenario.current
        if r.is_error and (r.service, error_signature(r.message)) not in known
    )
    return [service for service, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def ranking(scenario: Scenario) -> list[str]:
    """Suspects of the correlator, best first."""
    result = correlate_window(
        scenario.current,
        scenario.baseline,
        current_window=scenario.current_window,
        baseline_window=scenario.baseline_window,
    )
    return [suspect.service for suspect in result.suspects]


def main(n_seeds: int = 80, first_seed: int = 1000) -> None:
    """Print hit@1 and hit@3 per fault kind and overall."""
    hits: dict[str, defaultdict[str, list[int]]] = {
        "ailogs": defaultdict(list),
        "naive": defaultdict(list),
    }
    elapsed = 0.0
    for seed in range(first_seed, first_seed + n_seeds):
        scenario = generate(seed)
        started = time.perf_counter()
        ranked = {"ailogs": ranking(scenario)}
        elapsed += time.perf_counter() - started
        ranked["naive"] = naive_ranking(scenario)
        for method, order in ranked.items():
            position = order.index(scenario.root_cause) if scenario.root_cause in order else 99
            hits[method][scenario.kind.value].append(position)
            hits[method]["all"].append(position)
            if method == "ailogs" and "-v" in sys.argv and position > 0:
                print(seed, scenario.kind.value, scenario.root_cause, "->", order[:3])
    for method, table in hits.items():
        for kind in [*(k.value for k in FaultKind), "all"]:
            positions = table[kind]
            if not positions:
                continue
            at1 = sum(p == 0 for p in positions) / len(positions)
            at3 = sum(p < 3 for p in positions) / len(positions)
            print(f"{method:7s} {kind:13s} n={len(positions):3d} hit@1={at1:.2f} hit@3={at3:.2f}")
    print(f"correlate_window: {elapsed / n_seeds * 1000:.0f} ms per scenario")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    main(int(args[0]) if args else 80, int(args[1]) if len(args) > 1 else 1000)
