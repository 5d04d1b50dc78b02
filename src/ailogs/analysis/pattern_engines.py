"""Engines that match many regexes over many lines: Hyperscan and a `re` reference.

Both answer the same question — for each line, which pattern ids match — and
must agree exactly. Hyperscan scans a whole block of lines joined by newlines in
one call and maps match offsets back to lines; that is why a pattern may never
match a newline (`newline_hazard` checks it at load time).
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate

# re's parser is private but stable; it is the only way to reason about what a
# regex can match without writing a regex parser of our own.
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any, Protocol

import hyperscan

# Both engines treat text as ASCII-case-insensitive; ^ and $ work per line.
RE_FLAGS = re.IGNORECASE | re.ASCII | re.MULTILINE
_HS_FLAGS = hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_MULTILINE

# Lines per Hyperscan call: large enough to amortise the call, small enough
# that the joined block stays in cache.
BLOCK_LINES = 2048


class Engine(Protocol):
    """Matches every pattern over a batch of lines."""

    def match_lines(self, lines: Sequence[str]) -> list[tuple[str, ...]]:
        """For each line, the ids that match it, each once, in library order."""
        ...


class ReEngine:
    """Reference engine: one `re.search` per pattern per line."""

    def __init__(self, ids: Sequence[str], regexes: Sequence[str]) -> None:
        self._compiled = [
            (pattern_id, re.compile(regex, RE_FLAGS))
            for pattern_id, regex in zip(ids, regexes, strict=True)
        ]

    def match_lines(self, lines: Sequence[str]) -> list[tuple[str, ...]]:
        """Match each line against each pattern in turn."""
        compiled = self._compiled
        return [
            tuple(pattern_id for pattern_id, regex in compiled if regex.search(line))
            for line in lines
        ]


def _collect(pattern: int, start: int, end: int, flags: int, context: Any) -> None:
    context += (pattern, end)


class HyperscanEngine:
    """All patterns in one Hyperscan database, scanned over blocks of lines."""

    def __init__(self, ids: Sequence[str], regexes: Sequence[str]) -> None:
        self._ids = tuple(ids)
        self._lock = threading.Lock()  # the database owns one scratch space
        # Pattern-set bitmask -> tuple of ids in library order; few distinct sets occur.
        self._tuples: dict[int, tuple[str, ...]] = {0: ()}
        self._database: Any = None
        if not regexes:
            return
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        try:
            database.compile(
                expressions=[regex.encode("ascii") for regex in regexes],
                ids=list(range(len(regexes))),
                elements=len(regexes),
                flags=_HS_FLAGS,
            )
        except hyperscan.error as exc:
            culprit = _name_culprit(ids, regexes, exc)
            raise ValueError(f"Hyperscan rejected a pattern: {culprit}") from None
        self._database = database

    def match_lines(self, lines: Sequence[str]) -> list[tuple[str, ...]]:
        """Scan blocks of lines joined by newlines; one Hyperscan call per block."""
        result: list[tuple[str, ...]] = [()] * len(lines)
        if self._database is None:
            return result
        for offset in range(0, len(lines), BLOCK_LINES):
            self._scan_block(lines[offset : offset + BLOCK_LINES], offset, result)
        return result

    def _scan_block(self, block: Sequence[str], offset: int, result: list[tuple[str, ...]]) -> None:
        text = "\n".join(block)
        encoded: list[bytes] | None = None
        if text.isascii():
            data = text.encode("ascii")
        else:
            # Lone surrogates (from surrogateescape decoding) must survive, so
            # encode with surrogatepass and scan as bytes, not as UTF-8.
            encoded = [line.encode("utf-8", "surrogatepass") for line in block]
            data = b"\n".join(encoded)
        # Matches land in a flat list of ints (no tuple, nothing for the GC to
        # track); most blocks have few, so line offsets are computed only then.
        hits: list[int] = []
        with self._lock:
            self._database.scan(data, match_event_handler=_collect, context=hits)
        if not hits:
            return
        lengths = map(len, block if encoded is None else encoded)
        starts = list(accumulate((length + 1 for length in lengths), initial=0))
        masks: dict[int, int] = {}
        for index in range(0, len(hits), 2):
            line = bisect_right(starts, hits[index + 1] - 1) - 1
            masks[line] = masks.get(line, 0) | (1 << hits[index])
        tuples = self._tuples
        for line, mask in masks.items():
            ids = tuples.get(mask)
            if ids is None:
                ids = tuple(self._ids[i] for i in range(len(self._ids)) if mask >> i & 1)
                tuples[mask] = ids
            result[offset + line] = ids


def _name_culprit(ids: Sequence[str], regexes: Sequence[str], exc: Exception) -> str:
    for pattern_id, regex in zip(ids, regexes, strict=True):
        probe = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        try:
            probe.compile(expressions=[regex.encode("ascii")], ids=[0], elements=1, flags=_HS_FLAGS)
        except hyperscan.error as single:
            return f"pattern {pattern_id!r}: {single}"
    return str(exc)


_NEWLINE = 10
_WIDE_CATEGORIES = {
    sre_constants.CATEGORY_SPACE,
    sre_constants.CATEGORY_NOT_DIGIT,
    sre_constants.CATEGORY_NOT_WORD,
    sre_constants.CATEGORY_LINEBREAK,
}


def newline_hazard(regex: str) -> str | None:
    """Describe how `regex` could match a newline, or None when it cannot."""
    return _walk(sre_parse.parse(regex, RE_FLAGS))


def _walk(parsed: Any) -> str | None:
    for op, argument in parsed:
        hazard = _op_hazard(op, argument)
        if hazard:
            return hazard
    return None


def _op_hazard(op: Any, argument: Any) -> str | None:
    if op is sre_constants.LITERAL:
        return "a literal newline" if argument == _NEWLINE else None
    if op is sre_constants.NOT_LITERAL:
        return "a negated literal" if argument != _NEWLINE else None
    if op is sre_constants.IN:
        return _set_hazard(argument)
    if op is sre_constants.ANY:
        return None  # without DOTALL, `.` never matches a newline in re, RE2 or Hyperscan
    for part in argument if isinstance(argument, tuple | list) else (argument,):
        if isinstance(part, sre_parse.SubPattern):
            hazard = _walk(part)
            if hazard:
                return hazard
        elif isinstance(part, list):  # BRANCH alternatives
            for alternative in part:
                if isinstance(alternative, sre_parse.SubPattern):
                    hazard = _walk(alternative)
                    if hazard:
                        return hazard
    return None


def _set_hazard(items: Any) -> str | None:
    negated = False
    contains = False
    for op, argument in items:
        if op is sre_constants.NEGATE:
            negated = True
        elif op is sre_constants.LITERAL:
            contains = contains or argument == _NEWLINE
        elif op is sre_constants.RANGE:
            contains = contains or argument[0] <= _NEWLINE <= argument[1]
        elif op is sre_constants.CATEGORY:
            contains = contains or argument in _WIDE_CATEGORIES
    if negated != contains:
        return "a negated class without \\n" if negated else "a class containing \\n (\\s?)"
    return None
