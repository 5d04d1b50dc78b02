"""API keys: the token format, how a secret is hashed, and where keys are kept.

A key reads `ailk_<id>_<secret>`: the id (12 hex digits) is public and names
the key in listings, logs and the audit table; the secret (32 random bytes,
URL-safe base64) is shown once at creation and only its SHA-256 is stored. A
salted slow hash buys nothing for 256 random bits; the comparison is constant
time all the same.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from ailogs.store.access import ApiKeyRecord

__all__ = [
    "ApiKeyRecord",
    "ApiKeyRepository",
    "InMemoryApiKeyRepository",
    "IssuedKey",
    "hash_secret",
    "issue_key",
    "secret_matches",
    "split_token",
]

TOKEN_PREFIX = "ailk_"
_ID_HEX = 12
_MAX_TOKEN = 128


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A freshly created key: the token is shown once and never stored."""

    key_id: str
    token: str
    key_hash: str


def hash_secret(secret: str) -> str:
    """The stored form of a key's secret (hex SHA-256)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_key() -> IssuedKey:
    """A new random key id and secret."""
    key_id = secrets.token_hex(_ID_HEX // 2)
    secret = secrets.token_urlsafe(32)
    return IssuedKey(key_id, f"{TOKEN_PREFIX}{key_id}_{secret}", hash_secret(secret))


def split_token(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed token, else None. Never echoes the token."""
    if len(token) > _MAX_TOKEN or not token.startswith(TOKEN_PREFIX):
        return None
    key_id, sep, secret = token[len(TOKEN_PREFIX) :].partition("_")
    if not sep or len(key_id) != _ID_HEX or not secret:
        return None
    if any(c not in "0123456789abcdef" for c in key_id):
        return None
    return key_id, secret


def secret_matches(secret: str, key_hash: str) -> bool:
    """Constant-time check of a presented secret against the stored hash."""
    return hmac.compare_digest(hash_secret(secret), key_hash)


class ApiKeyRepository(Protocol):
    """Where keys live: the `api_keys` table, or memory in tests."""

    async def get(self, key_id: str) -> ApiKeyRecord | None:
        """The key with this id, revoked or not."""
        ...

    async def add(self, record: ApiKeyRecord) -> None:
        """Store a new key."""
        ...

    async def revoke(self, key_id: str, *, at_ns: int) -> bool:
        """Mark a key revoked; False when no active key has this id."""
        ...

    async def list_keys(self) -> Sequence[ApiKeyRecord]:
        """Every key, oldest first."""
        ...

    async def count_active(self) -> int:
        """How many keys are not revoked."""
        ...

    async def touch(self, key_id: str, *, at_ns: int) -> None:
        """Record that a key was used."""
        ...


class InMemoryApiKeyRepository:
    """Keys in a dict; for tests and for running without a database."""

    def __init__(self, records: Sequence[ApiKeyRecord] = ()) -> None:
        self._records = {record.key_id: record for record in records}

    async def get(self, key_id: str) -> ApiKeyRecord | None:
        """The key with this id, revoked or not."""
        return self._records.get(key_id)

    async def add(self, record: ApiKeyRecord) -> None:
        """Store a new key."""
        self._records[record.key_id] = record

    async def revoke(self, key_id: str, *, at_ns: int) -> bool:
        """Mark a key revoked; False when no active key has this id."""
        record = self._records.get(key_id)
        if record is None or not record.active:
            return False
        self._records[key_id] = replace(record, revoked_at_ns=at_ns)
        return True

    async def list_keys(self) -> Sequence[ApiKeyRecord]:
        """Every key, oldest first."""
        return sorted(self._records.values(), key=lambda record: record.created_at_ns)

    async def count_active(self) -> int:
        """How many keys are not revoked."""
        return sum(record.active for record in self._records.values())

    async def touch(self, key_id: str, *, at_ns: int) -> None:
        """Record that a key was used."""
        record = self._records.get(key_id)
        if record is not None:
            self._records[key_id] = replace(record, last_used_at_ns=at_ns)
