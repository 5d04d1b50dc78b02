"""Settings come from AILOGS_* variables; a bad one stops start-up naming itself."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ailogs.errors import SettingsError
from ailogs.settings import load_settings


def test_defaults_are_the_embedded_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AILOGS_LOKI_URL", "AILOGS_REDIS_URL", "AILOGS_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.loki.url == "http://127.0.0.1:3100"
    assert settings.redis.url == ""
    assert settings.database.url.startswith("sqlite+aiosqlite://")
    assert settings.limits.max_window == "7d"
    assert settings.limits.max_limit == 5000


def test_documented_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AILOGS_LOKI_URL", "http://loki:3100/")
    monkeypatch.setenv("AILOGS_LOKI_TENANT", "acme")
    monkeypatch.setenv("AILOGS_DATABASE_URL", "postgresql+asyncpg://postgres@db/ailogs")
    monkeypatch.setenv("AILOGS_REDIS_URL", "redis://cache:6379/0")
    monkeypatch.setenv("AILOGS_LIMITS_MAX_WINDOW", "2d")
    settings = load_settings()
    assert settings.loki.url == "http://loki:3100"
    assert settings.loki.tenant == "acme"
    assert settings.database.url == "postgresql+asyncpg://postgres@db/ailogs"
    assert settings.redis.url == "redis://cache:6379/0"
    assert settings.limits.max_window == "2d"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("AILOGS_LOKI_URL", "loki:3100", "AILOGS_LOKI_URL"),
        ("AILOGS_LOKI_TENANT", "a|b", "AILOGS_LOKI_TENANT"),
        ("AILOGS_DATABASE_URL", "postgresql://sync-driver/db", "AILOGS_DATABASE_URL"),
        ("AILOGS_REDIS_URL", "http://nope", "AILOGS_REDIS_URL"),
        ("AILOGS_LIMITS_MAX_WINDOW", "forever", "AILOGS_LIMITS_MAX_WINDOW"),
        ("AILOGS_LIMITS_MAX_LIMIT", "-3", "AILOGS_LIMITS_MAX_LIMIT"),
        ("AILOGS_PORT", "http", "AILOGS_PORT"),
        ("AILOGS_LOG_LEVEL", "loud", "AILOGS_LOG_LEVEL"),
    ],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=f"^invalid setting {message}: "):
        load_settings()


def test_serve_refuses_to_start_with_one_clear_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ailogs", "serve"],
        env={"AILOGS_LOKI_URL": "not-a-url", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "ailogs: invalid setting AILOGS_LOKI_URL: must be an http:// or https:// URL"
    ]
