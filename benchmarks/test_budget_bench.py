"""Token budget bar: a 5,000-line troubleshooting answer compacted to max_tokens=4000."""

from __future__ import annotations

from typing import Any

from tests.analysis.test_budget import ERRORS, troubleshooting_answer

from ailogs.analysis.budget import compact_answer, estimate_tokens


def test_compact_5000_lines_to_4000_tokens(benchmark: Any) -> None:
    answer = troubleshooting_answer(5000)

    compacted = benchmark(compact_answer, answer, 4000)

    assert estimate_tokens(compacted) <= 4000
    report = compacted["compaction"]
    assert report["error_templates"] == len(ERRORS)
    assert report["templates_listed"] >= report["error_templates"]
