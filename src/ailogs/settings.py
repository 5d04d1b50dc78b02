"""One Settings object, read from `AILOGS_*` environment variables.

Only the app factory and the command line read settings; adapters get what they
need through their constructors. Each group has its own prefix so the documented
names are exact: `AILOGS_LOKI_URL`, `AILOGS_LOKI_TENANT`, `AILOGS_DATABASE_URL`,
`AILOGS_REDIS_URL`, `AILOGS_LIMITS_MAX_WINDOW`, ...
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ailogs.domain import parse_duration_ns
from ailogs.errors import SettingsError


def _duration(value: str) -> str:
    parse_duration_ns(value)
    return value


Duration = Annotated[str, AfterValidator(_duration)]


def _group(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, extra="ignore", frozen=True)


class LokiSettings(BaseSettings):
    """How to reach Loki."""

    model_config = _group("AILOGS_LOKI_")

    url: str = "http://127.0.0.1:3100"
    tenant: str | None = None
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    connect_timeout_s: float = Field(default=3.0, gt=0, le=60)
    max_connections: int = Field(default=50, ge=1, le=1000)
    retry_attempts: int = Field(default=3, ge=1, le=10)
    retry_budget_s: float = Field(default=10.0, gt=0, le=120)
    breaker_failures: int = Field(default=5, ge=1)
    breaker_cooldown_s: float = Field(default=30.0, gt=0)
    max_entries: int = Field(default=5000, ge=1)
    ingestion_delay_s: int = Field(default=120, ge=0)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or any(c in value for c in "\r\n|")):
            raise ValueError("must be a tenant id without newlines or `|`")
        return value or None


class RedisSettings(BaseSettings):
    """The shared cache; an empty URL means an in-process cache."""

    model_config = _group("AILOGS_REDIS_")

    url: str = ""
    key_prefix: str = "ailogs:"

    @field_validator("url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// URL, or empty for the in-process cache")
        return value


class CacheSettings(BaseSettings):
    """Query-answer caching policy (`AILOGS_CACHE_*`); the store is AILOGS_REDIS_URL."""

    model_config = _group("AILOGS_CACHE_")

    live_ttl_s: float = Field(default=10.0, ge=0, le=3600)
    immutable_ttl_s: float = Field(default=86400.0, ge=0)
    stale_grace_s: float = Field(default=600.0, ge=0)
    # Relative windows end on a multiple of this, so repeated calls share a key.
    align_s: int = Field(default=10, ge=0, le=3600)
    compress_min_bytes: int = Field(default=16 * 1024, ge=0)
    max_entries: int = Field(default=1024, ge=1)
    # The in-process cache (no AILOGS_REDIS_URL) also stops at this many bytes.
    max_bytes: int = Field(default=256 * 1024 * 1024, ge=0)
    redis_max_connections: int = Field(default=64, ge=1, le=10_000)
    # A reply from a live Redis; must outlast event-loop lag under load.
    redis_timeout_s: float = Field(default=2.0, gt=0, le=30)
    # Connecting: a stopped Redis refuses at once; this bounds an unreachable host.
    # Not shorter: under load the event loop lags, and a slow connect is not an outage.
    redis_connect_timeout_s: float = Field(default=2.0, gt=0, le=30)
    # Waiting for a pooled connection under load (not a sign that Redis is down).
    redis_pool_timeout_s: float = Field(default=5.0, gt=0, le=60)


class RateLimitSettings(BaseSettings):
    """Per-caller request rate (`AILOGS_RATE_LIMIT_*`): per key, or per address when open."""

    model_config = _group("AILOGS_RATE_LIMIT_")

    enabled: bool = True
    per_second: float = Field(default=10.0, gt=0)
    burst: int = Field(default=50, ge=1)


class DatabaseSettings(BaseSettings):
    """The operations store: an SQLAlchemy async URL."""

    model_config = _group("AILOGS_DATABASE_")

    url: str = "sqlite+aiosqlite:///./ailogs.db"
    migrate_on_start: bool = True
    echo: bool = False
    schema_name: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    raw_retention_days: int = Field(default=30, ge=1)
    hourly_retention_days: int = Field(default=90, ge=1)
    daily_retention_days: int = Field(default=365, ge=1)
    baseline_window: Duration = "7d"
    baseline_min_samples: int = Field(default=30, ge=1)

    @field_validator("url")
    @classmethod
    def _async_url(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "must be an async SQLAlchemy URL: sqlite+aiosqlite:///path or "
                "postgresql+asyncpg://user@host/db"
            )
        return value


class IngestSettings(BaseSettings):
    """The AI-operation ingest: the worker that reads Loki, and pricing."""

    model_config = _group("AILOGS_INGEST_")

    enabled: bool = False
    interval_s: float = Field(default=30.0, gt=0)
    initial_lookback: Duration = "1h"
    chunk: Duration = "15m"
    buffer_max: int = Field(default=50_000, ge=1)
    prices_path: str = ""  # empty: config/model_prices.yaml of the checkout or package


class LimitSettings(BaseSettings):
    """What one request may ask for."""

    model_config = _group("AILOGS_LIMITS_")

    max_window: Duration = "7d"
    default_window: Duration = "1h"
    max_limit: int = Field(default=5000, ge=1, le=100_000)
    default_limit: int = Field(default=100, ge=1)
    max_param_length: int = Field(default=512, ge=16)
    max_services: int = Field(default=50, ge=1)
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)


class AgentSettings(BaseSettings):
    """What agents get: export, guardrails, redaction (`AILOGS_AGENT_*`)."""

    model_config = _group("AILOGS_AGENT_")

    export_max_lines: int = Field(default=1_000_000, ge=1)
    # Loki's max_entries_limit_per_query is the natural page size.
    export_page_size: int = Field(default=5000, ge=10, le=100_000)
    # Refuse queries whose index estimate is above this many bytes (0 disables).
    query_budget_bytes: int = Field(default=50 * 1024**3, ge=0)
    # Allow queries without `services` (every stream that has a service_name).
    allow_all_services: bool = True
    estimate_ttl_s: float = Field(default=30.0, ge=0)
    # Windows up to this long skip the estimate (cheap: no extra round trip).
    guard_free_window: Duration = "1h"
    # Comma list of redaction classes, or "none": keys, tokens, jwt, passwords,
    # emails, cards, ips.
    redact: str = "keys,tokens,jwt,passwords"
    context_max_lines: int = Field(default=500, ge=1)
    # Host headers /mcp accepts (DNS-rebinding protection), comma list with optional
    # `:*` ports; empty: loopback names and AILOGS_HOST.
    mcp_allowed_hosts: str = ""


class StreamSettings(BaseSettings):
    """The live stream (`AILOGS_STREAM_*`): limits, queues, alert and metrics cadence."""

    model_config = _group("AILOGS_STREAM_")

    max_subscribers: int = Field(default=1000, ge=1)
    max_subscribers_per_client: int = Field(default=50, ge=1)
    # Loki allows 10 concurrent tails per tenant; keep headroom for humans and Grafana.
    max_upstreams_per_tenant: int = Field(default=8, ge=1, le=100)
    max_filter_services: int = Field(default=50, ge=1)
    max_filter_patterns: int = Field(default=50, ge=1)
    max_search_length: int = Field(default=512, ge=1)
    max_frame_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    queue_max_lines: int = Field(default=2000, ge=10)
    alert_interval_s: float = Field(default=5.0, gt=0)
    metrics_interval_s: float = Field(default=10.0, gt=0)
    # A send blocked this long means the client is gone: the connection is closed.
    send_timeout_s: float = Field(default=30.0, gt=0)
    # Log frames go to a subscriber at most this often; lines queued meanwhile share one.
    flush_interval_s: float = Field(default=0.1, ge=0, le=5)
    heartbeat_s: float = Field(default=20.0, gt=0)
    tail_delay_for_s: int = Field(default=0, ge=0, le=5)
    tail_backoff_max_s: float = Field(default=30.0, gt=0)


class Settings(BaseSettings):
    """Everything ailogs reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="AILOGS_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "info"
    allow_anonymous: bool = False
    loki: LokiSettings = Field(default_factory=LokiSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    # Signs pagination cursors; unset means a random secret per process.
    cursor_secret: SecretStr | None = None
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    stream: StreamSettings = Field(default_factory=StreamSettings)

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.lower() not in {"debug", "info", "warning", "error", "critical"}:
            raise ValueError("must be one of debug, info, warning, error, critical")
        return value.lower()


_GROUPS: dict[str, type[BaseSettings]] = {
    "loki": LokiSettings,
    "redis": RedisSettings,
    "cache": CacheSettings,
    "rate_limit": RateLimitSettings,
    "database": DatabaseSettings,
    "limits": LimitSettings,
    "agent": AgentSettings,
    "ingest": IngestSettings,
    "stream": StreamSettings,
}
_GROUP_FIELDS = frozenset(_GROUPS)


def load_settings(**overrides: Any) -> Settings:
    """Read the environment into Settings, or raise SettingsError naming the variable."""
    groups: dict[str, Any] = {}
    for name, group in _GROUPS.items():
        if name in overrides:
            continue
        try:
            groups[name] = group()
        except ValidationError as exc:
            raise SettingsError(_describe(exc, group.model_config.get("env_prefix", ""))) from None
    try:
        return Settings(**groups, **overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, "AILOGS_")) from None


def _describe(exc: ValidationError, prefix: str) -> str:
    first = exc.errors()[0]
    location = [str(part) for part in first["loc"] if part not in _GROUP_FIELDS]
    variable = (prefix + "_".join(location)).upper()
    message = first["msg"].removeprefix("Value error, ")
    return f"invalid setting {variable}: {message}"
