"""The cache suite runs against real Redis servers."""

from tests.redis_support import key_prefix, private_redis, redis_client

__all__ = ["key_prefix", "private_redis", "redis_client"]
