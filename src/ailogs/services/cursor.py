"""Pagination cursors for `/query`: opaque, HMAC-signed, bound to the tenant and the query.

A cursor is `base64url(payload).base64url(mac)`. The payload carries the window
and the position (boundary timestamp, lines already read at it); the MAC covers
the payload and a binding of the tenant, the LogQL and the direction, so a
modified cursor, or one replayed with another query or by another tenant, is
`INVALID_CURSOR` and never reads anything. The window travels in the cursor so
`time_range=1h` pages stay on the window of the first page.

Pages resume with `PageReader` (the export engine): no line is lost or repeated
at a page boundary, even when many lines share a nanosecond.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from ailogs.domain import NS_PER_SECOND, Direction, TimeWindow
from ailogs.errors import InvalidCursor
from ailogs.services.pager import Position

_VERSION = 1
_MAC_BYTES = 16
_MAX_CURSOR = 4096
# At most this many line identities ride in a cursor (17 bytes each once encoded).
MAX_EXCLUDED = 64


@dataclass(frozen=True, slots=True)
class CursorState:
    """What a valid cursor says: the window of the first page and where to resume."""

    window: TimeWindow
    position: Position
    # Identities (`entry_identity`) of lines at the position's timestamp that the first
    # page returned in Loki's order; later pages skip them, then `position.skip` more.
    exclude: tuple[str, ...] = ()


class CursorCodec:
    """Signs and verifies cursors with one secret."""

    def __init__(self, secret: bytes | None = None) -> None:
        self.ephemeral = secret is None
        self._secret = secret if secret is not None else secrets.token_bytes(32)

    @staticmethod
    def _binding(tenant: str | None, logql: str, direction: Direction) -> bytes:
        material = orjson.dumps([tenant or "", logql, direction.value])
        return hashlib.sha256(material).digest()[:16]

    def _mac(self, payload: bytes, binding: bytes) -> bytes:
        return hmac.new(self._secret, binding + payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(
        self,
        state: CursorState,
        *,
        tenant: str | None,
        logql: str,
        direction: Direction,
    ) -> str:
        """An opaque cursor for `state`, valid only with the same tenant, LogQL and direction."""
        payload = orjson.dumps(
            {
                "v": _VERSION,
                "w": [state.window.start_ns, state.window.end_ns],
                "p": [state.position.timestamp_ns, state.position.skip],
                "x": list(state.exclude),
            }
        )
        mac = self._mac(payload, self._binding(tenant, logql, direction))
        return f"{_b64(payload)}.{_b64(mac)}"

    def decode(
        self, token: str, *, tenant: str | None, logql: str, direction: Direction
    ) -> CursorState:
        """Verify a cursor and return its state, or raise InvalidCursor."""
        if len(token) > _MAX_CURSOR or token.count(".") != 1:
            raise InvalidCursor("the cursor is malformed", field="cursor")
        encoded_payload, encoded_mac = token.split(".")
        try:
            payload = _unb64(encoded_payload)
            mac = _unb64(encoded_mac)
        except (binascii.Error, ValueError):
            raise InvalidCursor("the cursor is malformed", field="cursor") from None
        expected = self._mac(payload, self._binding(tenant, logql, direction))
        if not hmac.compare_digest(mac, expected):
            raise InvalidCursor(
                "the cursor was modified, or belongs to another query or tenant", field="cursor"
            )
        try:
            data = orjson.loads(payload)
            start, end = (int(v) for v in data["w"])
            timestamp, skip = (int(v) for v in data["p"])
            exclude = tuple(str(v) for v in data.get("x", ()))
            if data["v"] != _VERSION or skip < 0:
                raise ValueError("bad cursor")
            return CursorState(TimeWindow(start, end), Position(timestamp, skip), exclude)
        except (KeyError, TypeError, ValueError, orjson.JSONDecodeError):
            raise InvalidCursor("the cursor is malformed", field="cursor") from None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text or any(c not in _B64_CHARS for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def parse_entry_timestamp(text: str) -> int:
    """Nanoseconds of an entry timestamp as `format_timestamp` writes it."""
    head, _, fraction = text.rstrip("Z").partition(".")
    seconds = int(datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp())
    return seconds * NS_PER_SECOND + int((fraction + "000000000")[:9])


def entry_identity(entry: dict[str, Any]) -> str:
    """A short, stable identity of a public entry (labels, timestamp, message, fields)."""
    material = orjson.dumps(
        entry, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str
    )
    return hashlib.blake2b(material, digest_size=8).hexdigest()


def tail_identities(entries: list[dict[str, Any]]) -> tuple[int, tuple[str, ...]]:
    """The last entry's timestamp and the identities of every entry at it."""
    stamp = entries[-1]["timestamp"]
    # format_timestamp is canonical: equal instants have equal strings, so no parsing.
    found = [entry_identity(entry) for entry in entries if entry["timestamp"] == stamp]
    return parse_entry_timestamp(stamp), tuple(found)


__all__ = [
    "MAX_EXCLUDED",
    "CursorCodec",
    "CursorState",
    "entry_identity",
    "parse_entry_timestamp",
    "tail_identities",
]
