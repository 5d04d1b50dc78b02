"""Cache keys carry no user text, split by tenant, and TTLs follow the window's end."""

from __future__ import annotations

from ailogs.cache.keys import (
    IMMUTABLE_TTL_S,
    align_up_ns,
    answer_key,
    answer_ttl_s,
    normalise_logql,
    tenant_prefix,
    valid_key_prefix,
)

S = 1_000_000_000


def key(**overrides: object) -> str:
    parts: dict[str, object] = {
        "tenant": "acme",
        "logql": '{service_name="api"} |= "secret-text"',
        "start_ns": 0,
        "end_ns": 60 * S,
        "limit": 100,
        "direction": "backward",
    }
    parts.update(overrides)
    return answer_key(**parts)  # type: ignore[arg-type]


def test_a_key_holds_no_user_text_and_starts_with_its_tenant() -> None:
    built = key()
    assert "secret" not in built
    assert "api" not in built
    assert "acme" not in built
    assert built.startswith(tenant_prefix("acme"))


def test_every_part_of_the_question_changes_the_key() -> None:
    base = key()
    assert key(tenant="other") != base
    assert key(logql='{service_name="web"}') != base
    assert key(start_ns=1) != base
    assert key(end_ns=61 * S) != base
    assert key(limit=101) != base
    assert key(direction="forward") != base


def test_whitespace_outside_literals_does_not_change_the_key() -> None:
    assert key(logql='{service_name="api"}   |=  "secret-text"') == key()
    assert key(logql='{service_name="api"} |= "secret  text"') != key(
        logql='{service_name="api"} |= "secret text"'
    )
    assert normalise_logql(' {a="x  y"}\n| json ') == '{a="x  y"} | json'


def test_windows_past_the_ingestion_delay_are_cached_long() -> None:
    now = 10_000 * S
    assert answer_ttl_s(now - 121 * S, now, 120) == IMMUTABLE_TTL_S
    assert answer_ttl_s(now - 60 * S, now, 120, live_ttl_s=7) == 7
    assert answer_ttl_s(now + 5 * S, now, 120, live_ttl_s=7) == 7


def test_alignment_rounds_up_to_the_step() -> None:
    assert align_up_ns(101 * S, 10 * S) == 110 * S
    assert align_up_ns(110 * S, 10 * S) == 110 * S
    assert align_up_ns(101 * S, 0) == 101 * S


def test_only_key_characters_are_accepted_as_a_prefix() -> None:
    assert valid_key_prefix("q:0a1b:ff")
    assert not valid_key_prefix("q:*")
    assert not valid_key_prefix("[a-z]")
