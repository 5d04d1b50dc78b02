"""Per-caller rate limits: GCRA in Redis, per process, and the fallback between them."""

from ailogs.ratelimit.base import LimiterBackend, RateDecision, RateLimiter, RatePolicy
from ailogs.ratelimit.fallback import FallbackRateLimiter
from ailogs.ratelimit.memory import InMemoryRateLimiter
from ailogs.ratelimit.redis import RedisRateLimiter

__all__ = [
    "FallbackRateLimiter",
    "InMemoryRateLimiter",
    "LimiterBackend",
    "RateDecision",
    "RateLimiter",
    "RatePolicy",
    "RedisRateLimiter",
]
