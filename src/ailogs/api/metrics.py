"""Prometheus metrics of the service itself, in a registry owned by the app."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class ServiceMetrics:
    """Request latency by route and status, Loki latency, errors by code."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_latency = Histogram(
            "ailogs_http_request_duration_seconds",
            "HTTP request latency by route template, method and status.",
            ["route", "method", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.loki_latency = Histogram(
            "ailogs_loki_request_duration_seconds",
            "Latency of calls to Loki by endpoint and outcome (HTTP status or error).",
            ["endpoint", "outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "ailogs_errors_total",
            "Errors answered to clients, by stable error code.",
            ["code"],
            registry=self.registry,
        )
        self.stream_subscribers = Gauge(
            "ailogs_stream_subscribers",
            "Open live-stream sessions (WebSocket and SSE).",
            registry=self.registry,
        )
        self.stream_upstreams = Gauge(
            "ailogs_stream_upstreams",
            "Upstream Loki tails the stream hub holds open.",
            registry=self.registry,
        )
        self.stream_dropped = Counter(
            "ailogs_stream_dropped",
            "Live-stream lines not delivered, by source (slow_consumer or loki).",
            ["source"],
            registry=self.registry,
        )

    def observe_loki(self, endpoint: str, seconds: float, outcome: str) -> None:
        """Record one exchange with Loki (the LokiClient observer)."""
        self.loki_latency.labels(endpoint, outcome).observe(seconds)
