"""GCRA in Redis: one short Lua script, so the read-modify-write is atomic.

Why a Lua script rather than the `limits` library: GCRA needs one key and one
round trip per request (EVALSHA), takes its clock from Redis `TIME` so every
replica agrees, and its allowed count is exact (`burst + rate * t`), which the
1% bar asks for. `limits`' moving window keeps one list entry per request and
its fixed window is off by up to 2x at window edges; it also adds a dependency.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from ailogs.ratelimit.base import LimiterBackend, RateDecision, RatePolicy

# Arithmetic in microseconds: now (~1.8e15) stays well inside a double's exact
# integer range, and `%d` keeps Lua from writing the TAT in exponent notation.
_GCRA_LUA = """
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tolerance
if allow_at > now then
  return {0, allow_at - now, 0}
end
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl_ms)
return {1, 0, math.floor((now + tolerance - new_tat) / interval)}
"""


class RedisRateLimiter:
    """A GCRA limiter shared by every replica that uses the same Redis and prefix.

    Errors from Redis propagate (`redis.RedisError`, `OSError`); wrap this in
    `FallbackRateLimiter` to keep serving when Redis is down.
    """

    def __init__(self, client: Redis, policy: RatePolicy, *, key_prefix: str) -> None:
        self._client = client
        self._policy = policy
        self._prefix = f"{key_prefix}rl:"
        self._script = client.register_script(_GCRA_LUA)
        self._interval_us = max(1, policy.interval_ns // 1000)
        self._tolerance_us = self._interval_us * policy.burst

    @property
    def policy(self) -> RatePolicy:
        """The policy every key is held to."""
        return self._policy

    async def acquire(self, key: str) -> RateDecision:
        """Count one request for `key` in Redis."""
        result: Any = await self._script(
            keys=[self._prefix + key], args=[self._interval_us, self._tolerance_us]
        )
        allowed, retry_us, remaining = (int(part) for part in result)
        return RateDecision(
            allowed=bool(allowed),
            retry_after_s=retry_us / 1e6,
            remaining=remaining,
            backend=LimiterBackend.REDIS,
        )
