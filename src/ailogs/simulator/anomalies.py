"""The catalogue of small misbehaviours the simulator injects.

Messages are worded the way real services word them, so the pattern library
(config/patterns.yaml) recognises them: slow responses and queries, rejected
input, expired tokens, connection resets, rate limits, model timeouts, context
length and content-filter refusals.
"""

from __future__ import annotations

import random
from typing import Any

from ailogs.simulator.topology import ModelProfile


def llm_failure(
    model: ModelProfile, duration: float, rng: random.Random
) -> tuple[str, str, str, str, float]:
    """(error_type, level, status, message part, duration) of a failed LLM call."""
    kind = rng.random()
    if kind < 0.45:
        return "RateLimitError", "error", "error", "failed: rate limit exceeded (429)", 80.0
    if kind < 0.7:
        text = f"failed: model request timed out after {duration * 3:.0f} ms"
        return "APITimeoutError", "error", "error", text, duration * 3
    if kind < 0.88:
        text = f"failed: context_length_exceeded, maximum context length {model.context_limit}"
        return "ContextLengthExceeded", "warning", "error", text, 40.0
    return "ContentFilter", "warning", "error", "failed: content filter triggered", duration


def hop_anomaly(rng: random.Random, ratio: float) -> dict[str, Any] | None:
    """A small non-cascading misbehaviour for one hop, with `ratio` odds (else None)."""
    if rng.random() >= ratio:
        return None
    kind = rng.random()
    if kind < 0.35:
        extra = rng.uniform(800.0, 4000.0)
        return {
            "level": "warning",
            "msg": "{endpoint} slow response: took {ms:.0f} ms (latency threshold exceeded)",
            "fields": {"http_status": 200, "status": "ok"},
            "extra_ms": extra,
        }
    if kind < 0.55:
        extra = rng.uniform(300.0, 1500.0)
        return {
            "level": "warning",
            "msg": "{endpoint} slow query: query took {ms:.0f} ms on primary",
            "fields": {"http_status": 200, "status": "ok"},
            "extra_ms": extra,
        }
    if kind < 0.75:
        return {
            "level": "warning",
            "msg": "{endpoint} 422 validation error: invalid input field 'quantity'",
            "fields": {"http_status": 422, "status": "ok", "error_type": "ValidationError"},
        }
    if kind < 0.88:
        return {
            "level": "warning",
            "msg": "{endpoint} connection reset by peer, retried once, 200 in {ms:.0f} ms",
            "fields": {"http_status": 200, "status": "ok"},
            "extra_ms": rng.uniform(50.0, 250.0),
        }
    return {
        "level": "warning",
        "msg": "{endpoint} 401 invalid token: token has expired",
        "fields": {"http_status": 401, "status": "ok", "error_type": "AuthError"},
    }
