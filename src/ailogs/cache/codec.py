"""How an entry is laid out in a shared store: a header, then the (compressed) body.

    byte 0      format: 0 raw, 1 zlib
    bytes 1-8   fresh-until, Unix milliseconds, big-endian
    bytes 9-    the answer (JSON bytes), compressed when large

zlib level 1 is used because it ships with Python and JSON log answers shrink
5-10x at a few hundred MB/s; the threshold keeps small answers uncompressed,
where the header and CPU would cost more than they save.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

RAW = 0
ZLIB = 1
_HEADER = struct.Struct(">BQ")
HEADER_BYTES = _HEADER.size


@dataclass(frozen=True, slots=True)
class Entry:
    """A decoded entry."""

    payload: bytes
    fresh_until_ms: int


def encode(payload: bytes, fresh_until_ms: int, *, compress_min_bytes: int) -> bytes:
    """Header plus body, zlib-compressed when at least `compress_min_bytes` long."""
    if len(payload) >= compress_min_bytes:
        packed = zlib.compress(payload, 1)
        if len(packed) < len(payload):
            return _HEADER.pack(ZLIB, fresh_until_ms) + packed
    return _HEADER.pack(RAW, fresh_until_ms) + payload


def decode(blob: bytes) -> Entry | None:
    """The entry in `blob`, or None when it is not one of ours (or is corrupt)."""
    if len(blob) < HEADER_BYTES:
        return None
    kind, fresh_until_ms = _HEADER.unpack_from(blob)
    body = blob[HEADER_BYTES:]
    if kind == RAW:
        return Entry(body, fresh_until_ms)
    if kind == ZLIB:
        try:
            return Entry(zlib.decompress(body), fresh_until_ms)
        except zlib.error:
            return None
    return None
