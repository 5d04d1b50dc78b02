"""Anomalies: what changed between a baseline window and the current one."""

from __future__ import annotations

from typing import Any

from ailogs.analysis.anomalies import (
    AnomalyKind,
    AnomalySettings,
    TemplateStatus,
    detect_anomalies,
    template_statuses,
)
from ailogs.domain import NS_PER_SECOND, LogRecord, TimeWindow, make_record

T0 = 1_795_600_000 * NS_PER_SECOND
BASELINE = TimeWindow(T0, T0 + 600 * NS_PER_SECOND)  # ten minutes
CURRENT = TimeWindow(BASELINE.end_ns, BASELINE.end_ns + 300 * NS_PER_SECOND)  # five minutes


def rec(
    window: TimeWindow, i: int, service: str, msg: str, level: str = "info", **f: Any
) -> LogRecord:
    """A record spread evenly inside a window."""
    ts = window.start_ns + (i * 997_000_000) % window.duration_ns
    return make_record(ts, msg, {}, body={"service": service, "level": level, "msg": msg, **f})


def run(current: list[LogRecord], baseline: list[LogRecord], **settings: Any) -> list[Any]:
    return detect_anomalies(
        current,
        baseline,
        current_window=CURRENT,
        baseline_window=BASELINE,
        settings=AnomalySettings(**settings),
    )


def steady(window: TimeWindow, n: int, service: str = "orders") -> list[LogRecord]:
    return [rec(window, i, service, f"order {i} confirmed") for i in range(n)]


def test_error_rate_spike_is_reported_for_the_failing_service_only() -> None:
    baseline = steady(BASELINE, 400) + steady(BASELINE, 400, "payments")
    current = steady(CURRENT, 150) + steady(CURRENT, 200, "payments")
    current += [
        rec(CURRENT, i, "orders", f"call to payments failed {i}", "error") for i in range(50)
    ]

    found = [a for a in run(current, baseline) if a.kind is AnomalyKind.ERROR_RATE_SPIKE]

    assert [a.service for a in found] == ["orders"]
    assert found[0].observed == 0.25
    assert found[0].baseline == 0.0
    assert found[0].score > 5


def test_rates_are_normalised_by_window_length() -> None:
    # 400 lines in ten minutes and 200 in five is the same rate: no volume anomaly.
    anomalies = run(steady(CURRENT, 200), steady(BASELINE, 400))
    assert not [
        a for a in anomalies if a.kind in (AnomalyKind.VOLUME_SPIKE, AnomalyKind.VOLUME_DROP)
    ]


def test_volume_spike_and_drop() -> None:
    baseline = steady(BASELINE, 400) + steady(BASELINE, 400, "payments")
    current = steady(CURRENT, 1000) + steady(CURRENT, 10, "payments")
    kinds = {(a.kind, a.service) for a in run(current, baseline)}
    assert (AnomalyKind.VOLUME_SPIKE, "orders") in kinds
    assert (AnomalyKind.VOLUME_DROP, "payments") in kinds


def test_minimum_sample_guard_keeps_a_few_errors_quiet() -> None:
    current = [rec(CURRENT, i, "orders", "boom", "error") for i in range(8)]
    assert run(current, [], min_samples=10) == []
    assert run(current, [], min_samples=5)  # the default guard lets eight through


def test_latency_shift_uses_p95_of_duration_ms() -> None:
    baseline = [rec(BASELINE, i, "db", "query", duration_ms=10 + i % 5) for i in range(200)]
    current = [rec(CURRENT, i, "db", "query", duration_ms=400 + i % 50) for i in range(100)]
    shifts = [a for a in run(current, baseline) if a.kind is AnomalyKind.LATENCY_SHIFT]
    assert len(shifts) == 1
    assert shifts[0].service == "db"
    assert shifts[0].observed >= 400
    assert shifts[0].baseline == 14.0


def test_template_statuses_new_vanished_spiking_known() -> None:
    baseline = steady(BASELINE, 200) + [
        rec(BASELINE, i, "orders", f"cache warmed in {i} ms") for i in range(40)
    ]
    baseline += [rec(BASELINE, i, "orders", f"retrying order {i}") for i in range(20)]
    current = steady(CURRENT, 100) + [
        rec(CURRENT, i, "payments", f"pool exhausted: {i} waiting", "error") for i in range(30)
    ]
    current += [rec(CURRENT, i, "orders", f"retrying order {i}") for i in range(80)]

    stats = template_statuses(current, baseline, current_window=CURRENT, baseline_window=BASELINE)
    by_status = {s.status: s for s in stats}

    assert by_status[TemplateStatus.NEW].services == ("payments",)
    assert by_status[TemplateStatus.NEW].count == 30
    assert "pool exhausted" in by_status[TemplateStatus.NEW].template
    assert "cache warmed" in by_status[TemplateStatus.VANISHED].template
    assert "retrying order" in by_status[TemplateStatus.SPIKING].template
    assert by_status[TemplateStatus.KNOWN].count == 100
    assert stats[0].status is TemplateStatus.NEW  # the interesting ones first


def test_anomaly_shape_and_deterministic_order() -> None:
    baseline = steady(BASELINE, 400) + steady(BASELINE, 400, "payments")
    current = [
        rec(CURRENT, i, svc, f"{svc} failed {i}", "error")
        for svc in ("payments", "orders")
        for i in range(60)
    ]
    first = [a.to_dict() for a in run(current, baseline)]
    again = [a.to_dict() for a in run(list(reversed(current)), baseline)]
    assert first == again
    assert set(first[0]) == {"kind", "service", "observed", "baseline", "score", "window", "detail"}
    assert first[0]["window"] == CURRENT.as_dict()
    scores = [a["score"] for a in first]
    assert scores == sorted(scores, reverse=True)
