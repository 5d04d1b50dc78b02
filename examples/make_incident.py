"""Regenerate examples/incident.jsonl: a deterministic multi-service incident.

    python examples/make_incident.py > examples/incident.jsonl

api-gateway → orders → payments → payments-db, and orders → llm-proxy (a fraud
check by an LLM). From 10:00 to 10:05 all is well; at 10:05 a lock-heavy
migration makes payments-db slow, the payments connection pool runs dry, and
timeouts climb through orders to the gateway.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import UTC, datetime, timedelta

START = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
INCIDENT = datetime(2026, 11, 20, 10, 5, tzinfo=UTC)
END = datetime(2026, 11, 20, 10, 10, tzinfo=UTC)


class Incident:
    """Writes one request at a time; all randomness from one seeded generator."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.lines: list[tuple[datetime, dict[str, object]]] = []

    def span(self) -> str:
        return f"{self.rng.getrandbits(64):016x}"

    def log(self, at: datetime, service: str, level: str, msg: str, **fields: object) -> None:
        stamp = at.isoformat(timespec="microseconds").replace("+00:00", "Z")
        record: dict[str, object] = {"ts": stamp, "level": level, "service": service, "msg": msg}
        record.update({k: v for k, v in fields.items() if v is not None})
        self.lines.append((at, record))

    def request(self, at: datetime) -> None:
        rng = self.rng
        broken = at >= INCIDENT
        # The pool drains over the first minute of the incident, then stays dry.
        severity = min(1.0, (at - INCIDENT).total_seconds() / 60) if broken else 0.0
        trace = f"{rng.getrandbits(128):032x}"
        cid = f"req-{rng.getrandbits(40):010x}"
        ids = {"trace_id": trace, "correlation_id": cid}
        gw, orders, payments, db, llm = (self.span() for _ in range(5))
        order_id = rng.randint(100000, 999999)
        t = at
        self.log(
            t, "api-gateway", "info", "POST /v1/checkout", span_id=gw, event="http.request", **ids
        )
        t += timedelta(milliseconds=rng.uniform(1, 3))
        self.log(
            t,
            "orders",
            "info",
            f"creating order {order_id}",
            span_id=orders,
            parent_span_id=gw,
            **ids,
        )
        llm_ms = rng.uniform(300, 900)
        tokens_in, tokens_out = rng.randint(400, 900), rng.randint(20, 80)
        self.log(
            t + timedelta(milliseconds=llm_ms),
            "llm-proxy",
            "info",
            "fraud check completed",
            span_id=llm,
            parent_span_id=orders,
            event="ai.operation",
            operation="chat",
            provider="openai",
            model="gpt-4o-mini",
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            tokens_used=tokens_in + tokens_out,
            duration_ms=round(llm_ms, 1),
            status="ok",
            **ids,
        )
        t += timedelta(milliseconds=llm_ms + 2)
        query_ms = rng.uniform(3, 12)
        if broken and rng.random() < 0.2 + 0.6 * severity:
            query_ms = rng.uniform(1800, 4800)
        pool_dry = broken and rng.random() < 0.75 * severity
        if pool_dry:
            waiting = rng.randint(20, 60)
            self.log(
                t + timedelta(milliseconds=5000),
                "payments",
                "error",
                "could not obtain connection from pool within 5000 ms"
                f" (pool size 20, 20 in use, {waiting} waiting)",
                span_id=payments,
                parent_span_id=orders,
                error_type="PoolTimeout",
                duration_ms=5000.0,
                status="error",
                **ids,
            )
            pay_ms = 5000.0
        else:
            level = "warning" if query_ms > 1000 else "debug"
            self.log(
                t + timedelta(milliseconds=query_ms),
                "payments-db",
                level,
                f"duration: {query_ms:.1f} ms statement: UPDATE accounts SET balance = balance - $1"
                " WHERE id = $2"
                + (" (waiting for lock on relation accounts)" if query_ms > 1000 else ""),
                span_id=db,
                parent_span_id=payments,
                duration_ms=round(query_ms, 1),
                **ids,
            )
            pay_ms = query_ms + rng.uniform(5, 15)
            self.log(
                t + timedelta(milliseconds=pay_ms),
                "payments",
                "info",
                f"charged order {order_id} amount={rng.randint(5, 400)}.00 EUR",
                span_id=payments,
                parent_span_id=orders,
                duration_ms=round(pay_ms, 1),
                http_status=200,
                **ids,
            )
        t += timedelta(milliseconds=pay_ms + 1)
        failed = pay_ms > 4000
        if failed:
            self.log(
                t,
                "orders",
                "error",
                f"call to payments failed: read timeout after 4000 ms (order {order_id})",
                span_id=orders,
                parent_span_id=gw,
                error_type="UpstreamTimeout",
                duration_ms=round((t - at).total_seconds() * 1000, 1),
                http_status=504,
                **ids,
            )
            self.log(
                t + timedelta(milliseconds=1),
                "api-gateway",
                "error",
                "upstream orders returned 504 Gateway Timeout",
                span_id=gw,
                event="http.request",
                http_status=504,
                duration_ms=round((t - at).total_seconds() * 1000 + 1, 1),
                **ids,
            )
        else:
            self.log(
                t,
                "orders",
                "info",
                f"order {order_id} confirmed",
                span_id=orders,
                parent_span_id=gw,
                duration_ms=round((t - at).total_seconds() * 1000, 1),
                http_status=201,
                **ids,
            )
            self.log(
                t + timedelta(milliseconds=1),
                "api-gateway",
                "info",
                "POST /v1/checkout 201",
                span_id=gw,
                event="http.request",
                http_status=201,
                duration_ms=round((t - at).total_seconds() * 1000 + 1, 1),
                **ids,
            )

    def run(self) -> list[str]:
        t = START
        while t < END:
            self.request(t)
            t += timedelta(seconds=self.rng.expovariate(1.6))
        self.lines.sort(key=lambda pair: pair[0])
        return [json.dumps(record, separators=(",", ":")) for _, record in self.lines]


def main() -> None:
    """Print the incident as JSON lines."""
    sys.stdout.write("\n".join(Incident().run()) + "\n")


if __name__ == "__main__":
    main()
