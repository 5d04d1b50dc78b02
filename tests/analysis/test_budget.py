"""Token budgets: a compacted answer fits, and keeps every error template."""

from __future__ import annotations

import random
from typing import Any

from ailogs.analysis.budget import compact_answer, estimate_tokens
from ailogs.analysis.templates import mine_templates
from ailogs.domain import format_timestamp

ERRORS = [
    "upstream {svc} timed out after {n} ms",
    "connection refused to {svc}:5432",
    "rate limit exceeded for model gpt-4o, retry after {n} s",
    "token limit exceeded: {n} tokens requested",
    "dns lookup failed for {svc}.internal",
    "disk full on /var/lib/{svc}",
    "OOMKilled container {svc} used {n} MiB",
    "invalid token for user u-{n}",
    "content filter blocked completion {n}",
    "failed to parse response body at byte {n}",
    "validation error: field amount must be positive, got -{n}",
    "circuit breaker open for {svc}",
]
NOISE = [
    "request handled in {n} ms",
    "cache hit for key k-{n}",
    "slow query took {n} ms on table orders",
    "retrying call to {svc} attempt {n}",
]


def troubleshooting_answer(lines: int = 5000, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    entries = []
    for i in range(lines):
        svc = rng.choice(["api", "worker", "payments", "gateway"])
        if i % 50 == 0:
            text, level = rng.choice(ERRORS), "error"
        else:
            text, level = rng.choice(NOISE), "warning"
        message = text.format(svc=svc, n=rng.randint(1, 99999))
        entries.append(
            {
                "timestamp": format_timestamp(1_795_000_000_000_000_000 + i * 1_000_000),
                "service": svc,
                "level": level,
                "message": message,
                "labels": {"service_name": svc, "level": level, "env": "prod", "job": "app"},
                "fields": {"msg": message, "level": level, "service": svc, "duration_ms": i},
            }
        )
    # Make sure every error template occurs at least once.
    for k, text in enumerate(ERRORS):
        if k * 7 + 3 < lines:
            entry = entries[k * 7 + 3]
            entry["message"] = entry["fields"]["msg"] = text.format(svc="api", n=k + 1)
            entry["level"] = entry["fields"]["level"] = entry["labels"]["level"] = "error"
    return {"mode": "troubleshoot", "logql": "{...}", "entries": entries, "stats": {}}


def test_a_5000_line_answer_fits_4000_tokens_and_keeps_every_error_template() -> None:
    answer = troubleshooting_answer()
    error_templates = {
        template
        for (_, template), entry in zip(
            mine_templates(e["message"] for e in answer["entries"]), answer["entries"], strict=True
        )
        if entry["level"] == "error"
    }
    assert estimate_tokens(answer) > 100_000

    compacted = compact_answer(answer, 4000)

    assert estimate_tokens(compacted) <= 4000
    listed = {t["template"] for t in compacted["templates"]}
    assert error_templates <= listed
    report = compacted["compaction"]
    assert report["applied"] is True
    assert report["over_budget"] is False
    assert report["entries_total"] == 5000
    assert report["entries_kept"] + report["entries_collapsed"] == 5000
    assert compacted["shared_labels"] == {"env": "prod", "job": "app"}
    kept_levels = [e["level"] for e in compacted["entries"]]
    assert kept_levels.count("error") >= len(ERRORS)


def test_an_answer_within_budget_is_unchanged_but_says_so() -> None:
    answer = troubleshooting_answer(lines=3)
    compacted = compact_answer(answer, 100_000)
    assert compacted["entries"] == answer["entries"]
    assert compacted["compaction"]["applied"] is False


def test_echoed_fields_are_dropped_and_lines_kept_in_original_order() -> None:
    compacted = compact_answer(troubleshooting_answer(lines=400), 1500)
    stamps = [e["timestamp"] for e in compacted["entries"]]
    assert stamps == sorted(stamps)
    for entry in compacted["entries"]:
        assert "msg" not in entry["fields"]
        assert "duration_ms" in entry["fields"]


def test_ranked_lists_are_cut_from_their_ends_to_fit() -> None:
    answer = {
        "patterns": [{"id": f"p{i}", "examples": ["x" * 200]} for i in range(50)],
        "templates": [{"template": "t" * 100, "count": i} for i in range(200)],
        "anomalies": [{"kind": "spike"}],
    }
    from ailogs.analysis.budget import fit_lists

    fitted = fit_lists(answer, 2000, ("templates", "patterns", "anomalies"))

    assert estimate_tokens(fitted) <= 2000
    assert fitted["patterns"][0]["id"] == "p0"
    assert fitted["anomalies"] == answer["anomalies"]
    assert fitted["compaction"]["dropped"]["templates"] > 0
