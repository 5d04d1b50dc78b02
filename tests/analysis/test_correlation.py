"""The correlator: service graph, origin, propagation and root-cause suspects."""

from __future__ import annotations

from typing import Any

from ailogs.analysis.correlation import correlate_request, correlate_window
from ailogs.analysis.mermaid import escape_label
from ailogs.analysis.patterns import default_pattern_library
from ailogs.domain import NS_PER_SECOND, LogRecord, TimeWindow, make_record

T0 = 1_795_600_000 * NS_PER_SECOND
MS = 1_000_000


def rec(ms: float, service: str, msg: str, level: str = "info", **fields: Any) -> LogRecord:
    body = {"service": service, "level": level, "msg": msg, **fields}
    return make_record(T0 + int(ms * MS), msg, {}, body=body)


def checkout(trace: str, at_ms: float = 0, *, fail: bool = True) -> list[LogRecord]:
    """gateway -> orders -> payments -> payments-db, linked by span ids."""
    ids = {"trace_id": trace}
    out = [
        rec(at_ms, "api-gateway", "POST /checkout", span_id=f"{trace}g", **ids),
        rec(
            at_ms + 1,
            "orders",
            "creating order",
            span_id=f"{trace}o",
            parent_span_id=f"{trace}g",
            **ids,
        ),
        rec(
            at_ms + 2,
            "payments",
            "charging",
            span_id=f"{trace}p",
            parent_span_id=f"{trace}o",
            **ids,
        ),
        rec(
            at_ms + 5,
            "payments-db",
            "UPDATE accounts",
            span_id=f"{trace}d",
            parent_span_id=f"{trace}p",
            duration_ms=3,
            **ids,
        ),
    ]
    if fail:
        out += [
            rec(
                at_ms + 5002,
                "payments",
                "database read timed out after 5000 ms",
                "error",
                span_id=f"{trace}p",
                parent_span_id=f"{trace}o",
                **ids,
            ),
            rec(
                at_ms + 5003,
                "orders",
                "call to payments failed: read timed out",
                "error",
                span_id=f"{trace}o",
                parent_span_id=f"{trace}g",
                **ids,
            ),
            rec(
                at_ms + 5004,
                "api-gateway",
                "upstream returned 504",
                "error",
                span_id=f"{trace}g",
                **ids,
            ),
        ]
    else:
        out += [
            rec(
                at_ms + 20,
                "orders",
                "order confirmed",
                span_id=f"{trace}o",
                parent_span_id=f"{trace}g",
                **ids,
            ),
            rec(at_ms + 21, "api-gateway", "POST /checkout 201", span_id=f"{trace}g", **ids),
        ]
    return out


def test_one_request_origin_propagation_and_graph_from_span_ids() -> None:
    result = correlate_request(
        checkout("t1"), correlation_id="req-1", library=default_pattern_library()
    )
    body = result.to_dict()

    assert body["correlation_id"] == "req-1"
    assert body["origin"]["service"] == "payments"
    assert body["origin"]["message"].startswith("database read timed out")
    assert body["propagation"] == ["payments", "orders", "api-gateway"]
    assert body["suspects"][0]["service"] == "payments"
    edges = {(e["source"], e["target"]) for e in body["graph"]["edges"]}
    assert edges == {("api-gateway", "orders"), ("orders", "payments"), ("payments", "payments-db")}
    nodes = {n["service"]: n for n in body["graph"]["nodes"]}
    assert nodes["payments"]["errors"] == 1
    assert nodes["payments-db"]["p95_ms"] == 3
    assert body["critical_path"][0] == "api-gateway"
    assert any("connectivity.timeout" in r for r in body["recommendations"])
    assert set(body) == {
        "correlation_id",
        "graph",
        "origin",
        "propagation",
        "suspects",
        "bottlenecks",
        "critical_path",
        "recommendations",
        "mermaid",
    }


def test_upstream_service_field_gives_edges_without_span_ids() -> None:
    records = [
        rec(0, "web", "GET /", correlation_id="c"),
        rec(1, "search", "query", upstream_service="web", correlation_id="c"),
        rec(
            2,
            "index",
            "lookup failed: disk full",
            "error",
            upstream_service="search",
            correlation_id="c",
        ),
        rec(3, "search", "index error", "error", upstream_service="web", correlation_id="c"),
    ]
    body = correlate_request(records, correlation_id="c").to_dict()
    assert {(e["source"], e["target"]) for e in body["graph"]["edges"]} == {
        ("web", "search"),
        ("search", "index"),
    }
    assert body["origin"]["service"] == "index"
    assert body["propagation"] == ["index", "search", "web"]


def test_time_order_is_the_last_resort_for_edges() -> None:
    records = [
        rec(0, "edge", "request in", correlation_id="c"),
        rec(1, "cart", "load cart", correlation_id="c"),
        rec(2, "pricing", "price lookup", correlation_id="c"),
        rec(3, "pricing", "NullPointerException in PriceRule", "error", correlation_id="c"),
        rec(4, "cart", "pricing failed", "error", correlation_id="c"),
    ]
    body = correlate_request(records, correlation_id="c").to_dict()
    assert {(e["source"], e["target"]) for e in body["graph"]["edges"]} == {
        ("edge", "cart"),
        ("cart", "pricing"),
    }
    assert body["origin"]["service"] == "pricing"


def test_a_callee_named_by_its_caller_is_the_origin_even_when_it_logged_nothing() -> None:
    records = [
        rec(-1, "ts-ui-dashboard", "GET /travel", trace_id="t", span_id="u"),
        rec(0, "ts-travel-service", "query trips", trace_id="t", span_id="a"),
        rec(
            5,
            "ts-travel-service",
            'I/O error on POST request for "http://ts-order-service:12031/api/v1/orders":'
            " Connection refused",
            "error",
            trace_id="t",
            span_id="a",
        ),
        rec(6, "ts-ui-dashboard", "upstream returned 500", "error", trace_id="t", span_id="u"),
    ]
    body = correlate_request(records, correlation_id="t").to_dict()
    assert body["origin"]["service"] == "ts-order-service"
    assert body["propagation"][:2] == ["ts-order-service", "ts-travel-service"]
    assert "ts-order-service" in {n["service"] for n in body["graph"]["nodes"]}


def _window(failing: bool, start_ms: float, n: int) -> list[LogRecord]:
    out: list[LogRecord] = []
    for i in range(n):
        out += checkout(
            f"{'c' if failing else 'b'}{i}", start_ms + i * 1000, fail=failing and i % 2 == 0
        )
    return out


def test_whole_window_blames_the_first_failing_service_not_the_loudest() -> None:
    baseline = _window(False, 0, 60)
    current = _window(True, 60_000, 60)
    result = correlate_window(
        current,
        baseline,
        current_window=TimeWindow(T0 + 60_000 * MS, T0 + 120_000 * MS),
        baseline_window=TimeWindow(T0, T0 + 60_000 * MS),
    )
    assert result.suspects[0].service == "payments"
    assert any("origin of 30 of 30 failing requests" in e for e in result.suspects[0].evidence)
    assert result.origin is not None
    assert result.origin.service == "payments"
    assert result.propagation == ("payments", "orders", "api-gateway")


def test_whole_window_finds_a_service_that_went_silent() -> None:
    def request(i: int, at: float, db_up: bool) -> list[LogRecord]:
        ids = {"trace_id": f"r{at}{i}"}
        out = [rec(at, "web", "GET /items", **ids), rec(at + 1, "items", "load items", **ids)]
        if db_up:
            out.append(rec(at + 2, "items-db", "SELECT items", **ids))
            out.append(rec(at + 3, "items", "items loaded", **ids))
        else:
            out.append(rec(at + 30, "items", "query failed: connection reset", "error", **ids))
        return out

    baseline = [r for i in range(80) for r in request(i, i * 500, True)]
    current = [r for i in range(80) for r in request(i, 40_000 + i * 500, False)]
    result = correlate_window(
        current,
        baseline,
        current_window=TimeWindow(T0 + 40_000 * MS, T0 + 80_000 * MS),
        baseline_window=TimeWindow(T0, T0 + 40_000 * MS),
    )
    assert result.suspects[0].service == "items-db"
    assert any("went quiet" in e for e in result.suspects[0].evidence)


def test_no_errors_no_origin() -> None:
    body = correlate_request(checkout("ok", fail=False)).to_dict()
    assert body["origin"] is None
    assert body["propagation"] == []
    assert body["suspects"] == []


def test_mermaid_escapes_hostile_service_names() -> None:
    records = [
        rec(0, 'evil"]; click n0 call alert(1) %%', "x", correlation_id="c"),
        rec(1, "b<script>|x", "boom", "error", correlation_id="c"),
    ]
    mermaid = correlate_request(records).mermaid
    assert mermaid.startswith("flowchart LR\n")
    assert '"]; click' not in mermaid
    assert "<script>" not in mermaid
    assert "class n" in mermaid  # erroring node styled
    assert escape_label('a"b') == "a#quot;b"


def test_empty_input() -> None:
    body = correlate_window([], []).to_dict()
    assert body["graph"] == {"nodes": [], "edges": []}
    assert body["suspects"] == []
