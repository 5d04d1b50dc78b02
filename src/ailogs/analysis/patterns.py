"""The pattern library: known failure signatures matched over log lines.

The library is YAML (config/patterns.yaml) turned into `PatternDef`s and
compiled once into a single Hyperscan database, so every line is scanned for
all patterns in one pass. A pure-`re` engine gives the same answers and is the
reference the tests and benchmarks compare against.
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml

from ailogs.analysis.pattern_engines import (
    Engine,
    HyperscanEngine,
    ReEngine,
    newline_hazard,
)
from ailogs.domain import LogRecord, format_timestamp

EngineName = Literal["hyperscan", "re"]

PATTERNS_FILE = "patterns.yaml"
_REQUIRED = ("id", "category", "severity", "description", "recommendation", "regex")
_ID_SHAPE = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+")


class Severity(StrEnum):
    """How bad a pattern is, least to most severe."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for info up to 4 for critical."""
        return _SEVERITY_ORDER.index(self)


_SEVERITY_ORDER = tuple(Severity)


class PatternLibraryError(ValueError):
    """The pattern library is invalid; the message names the offending pattern."""


@dataclass(frozen=True, slots=True)
class PatternDef:
    """One entry of the library. `regex` is matched case-insensitively."""

    id: str
    category: str
    severity: Severity
    description: str
    recommendation: str
    regex: str

    def to_dict(self) -> dict[str, str]:
        """The shape `GET /patterns` returns."""
        return {
            "id": self.id,
            "category": self.category,
            "severity": self.severity.value,
            "description": self.description,
            "recommendation": self.recommendation,
            "regex": self.regex,
        }


class PatternLibrary:
    """A validated, compiled set of patterns. Immutable and safe to share."""

    def __init__(self, patterns: Sequence[PatternDef], *, engine: EngineName = "hyperscan") -> None:
        self.patterns: tuple[PatternDef, ...] = tuple(patterns)
        self._by_id: dict[str, PatternDef] = {p.id: p for p in self.patterns}
        ids = tuple(p.id for p in self.patterns)
        regexes = [p.regex for p in self.patterns]
        self._engine: Engine = (
            HyperscanEngine(ids, regexes) if engine == "hyperscan" else ReEngine(ids, regexes)
        )
        self.engine: EngineName = engine
        # Every troubleshoot query carries it: build the alternation once.
        self._logql_regex = "(?i)" + "|".join(f"(?:{regex})" for regex in regexes)

    def __len__(self) -> int:
        return len(self.patterns)

    def __iter__(self) -> Iterator[PatternDef]:
        return iter(self.patterns)

    def get(self, pattern_id: str) -> PatternDef | None:
        """The pattern with this id, or None."""
        return self._by_id.get(pattern_id)

    @property
    def categories(self) -> frozenset[str]:
        """Every category used by some pattern."""
        return frozenset(p.category for p in self.patterns)

    def with_engine(self, engine: EngineName) -> PatternLibrary:
        """The same patterns compiled for another engine."""
        return PatternLibrary(self.patterns, engine=engine)

    def match_line(self, line: str) -> tuple[str, ...]:
        """Ids of the patterns that match `line`, each once, in library order."""
        return self._engine.match_lines([line])[0]

    def match_lines(self, lines: Sequence[str]) -> list[tuple[str, ...]]:
        """`match_line` for each line, in one scan of the whole batch."""
        if not lines:
            return []
        return self._engine.match_lines(lines)

    def logql_regex(self) -> str:
        """One RE2 alternation of every pattern, case-insensitive, for a LogQL `|~` filter."""
        return self._logql_regex

    def select(self, ids_or_categories: Iterable[str]) -> frozenset[str]:
        """Expand a mix of pattern ids and category names into pattern ids.

        Unknown names select nothing, so a stale filter never widens to everything.
        """
        wanted = set(ids_or_categories)
        return frozenset(p.id for p in self.patterns if p.id in wanted or p.category in wanted)


def load_pattern_library(
    text: str, *, source: str = PATTERNS_FILE, engine: EngineName = "hyperscan"
) -> PatternLibrary:
    """Parse and validate a pattern library from YAML text and compile it.

    Raises PatternLibraryError naming the source and the pattern id on any
    problem: bad YAML, missing field, unknown severity, duplicate id, or a
    regex that Python, RE2 or Hyperscan would reject or that could match a newline.
    """
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PatternLibraryError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(document, Mapping) or not isinstance(document.get("patterns"), list):
        raise PatternLibraryError(f"{source}: expected a mapping with a `patterns` list")
    patterns: list[PatternDef] = []
    seen: set[str] = set()
    for position, entry in enumerate(document["patterns"], start=1):
        pattern = _parse_entry(entry, position, source)
        if pattern.id in seen:
            raise PatternLibraryError(f"{source}: pattern {pattern.id!r} is defined twice")
        seen.add(pattern.id)
        patterns.append(pattern)
    try:
        return PatternLibrary(patterns, engine=engine)
    except ValueError as exc:
        raise PatternLibraryError(f"{source}: {exc}") from None


def _parse_entry(entry: Any, position: int, source: str) -> PatternDef:
    if not isinstance(entry, Mapping):
        raise PatternLibraryError(f"{source}: pattern #{position} is not a mapping")
    name = entry.get("id")
    label = repr(name) if isinstance(name, str) and name else f"#{position}"
    for key in _REQUIRED:
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            raise PatternLibraryError(f"{source}: pattern {label}: missing or empty `{key}`")
    pattern_id = str(entry["id"]).strip()
    if not _ID_SHAPE.fullmatch(pattern_id):
        raise PatternLibraryError(
            f"{source}: pattern {label}: id must look like `category.name` (lowercase)"
        )
    try:
        severity = Severity(str(entry["severity"]).strip().lower())
    except ValueError:
        allowed = ", ".join(s.value for s in Severity)
        raise PatternLibraryError(
            f"{source}: pattern {label}: unknown severity {entry['severity']!r} (use {allowed})"
        ) from None
    regex = str(entry["regex"]).strip()
    _check_regex(regex, label, source)
    return PatternDef(
        id=pattern_id,
        category=str(entry["category"]).strip(),
        severity=severity,
        description=" ".join(str(entry["description"]).split()),
        recommendation=" ".join(str(entry["recommendation"]).split()),
        regex=regex,
    )


# Constructs RE2 (Loki) rejects although Python accepts them.
_NOT_RE2 = re.compile(r"\(\?[=!<>]|\(\?P=|\\[1-9AZz]|[*+?}]\+")


def _check_regex(regex: str, label: str, source: str) -> None:
    if not regex.isascii():
        raise PatternLibraryError(f"{source}: pattern {label}: regex must be ASCII")
    try:
        compiled = re.compile(regex, re.IGNORECASE | re.ASCII)
    except re.error as exc:
        raise PatternLibraryError(f"{source}: pattern {label}: invalid regex: {exc}") from None
    if _NOT_RE2.search(regex):
        raise PatternLibraryError(
            f"{source}: pattern {label}: lookaround, backreferences, possessive quantifiers "
            "and \\A/\\Z anchors are not portable to Loki (RE2) and Hyperscan"
        )
    if compiled.search("") is not None:
        raise PatternLibraryError(f"{source}: pattern {label}: regex matches the empty string")
    hazard = newline_hazard(regex)
    if hazard:
        raise PatternLibraryError(
            f"{source}: pattern {label}: regex could match a newline ({hazard}); "
            "use [ \\t] instead of \\s and avoid `.` and negated classes"
        )


def _shipped_library_text() -> str:
    # A wheel carries the file inside the package (hatch force-include); a
    # source checkout or editable install reads the one in config/.
    packaged = importlib.resources.files("ailogs.analysis").joinpath(PATTERNS_FILE)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parents[3] / "config" / PATTERNS_FILE
    return checkout.read_text(encoding="utf-8")


def default_pattern_library(*, engine: EngineName = "hyperscan") -> PatternLibrary:
    """The library shipped with ailogs (config/patterns.yaml)."""
    return load_pattern_library(_shipped_library_text(), source=PATTERNS_FILE, engine=engine)


@dataclass(frozen=True, slots=True)
class PatternHit:
    """How often one pattern matched over a set of records, and where."""

    id: str
    category: str
    severity: Severity
    count: int
    services: tuple[str, ...]
    first_seen_ns: int
    last_seen_ns: int
    examples: tuple[str, ...]
    recommendation: str
    description: str

    def to_dict(self) -> dict[str, Any]:
        """The pattern shape of `/analyze` (DESIGN.md §4)."""
        return {
            "id": self.id,
            "category": self.category,
            "severity": self.severity.value,
            "count": self.count,
            "services": list(self.services),
            "first_seen": format_timestamp(self.first_seen_ns),
            "last_seen": format_timestamp(self.last_seen_ns),
            "examples": list(self.examples),
            "recommendation": self.recommendation,
            "description": self.description,
        }


def detect_patterns(
    records: Sequence[LogRecord], library: PatternLibrary, *, max_examples: int = 3
) -> list[PatternHit]:
    """Count library matches over records, one count per matching line.

    The whole raw line is matched (as Loki's `|~` filter would); examples are
    distinct messages. Sorted most severe first, then most frequent, then id.
    """
    matched = library.match_lines([record.line for record in records])
    counts: dict[str, int] = {}
    services: dict[str, set[str]] = {}
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    examples: dict[str, list[str]] = {}
    for record, ids in zip(records, matched, strict=True):
        stamp = record.timestamp_ns
        for pattern_id in ids:
            if pattern_id not in counts:
                counts[pattern_id] = 0
                services[pattern_id] = set()
                first[pattern_id] = last[pattern_id] = stamp
                examples[pattern_id] = []
            counts[pattern_id] += 1
            services[pattern_id].add(record.service)
            first[pattern_id] = min(first[pattern_id], stamp)
            last[pattern_id] = max(last[pattern_id], stamp)
            chosen = examples[pattern_id]
            if len(chosen) < max_examples and record.message not in chosen:
                chosen.append(record.message)
    hits = []
    for pattern_id, count in counts.items():
        pattern = library.get(pattern_id)
        if pattern is None:  # pragma: no cover - ids come from the library itself
            continue
        hits.append(
            PatternHit(
                id=pattern_id,
                category=pattern.category,
                severity=pattern.severity,
                count=count,
                services=tuple(sorted(services[pattern_id])),
                first_seen_ns=first[pattern_id],
                last_seen_ns=last[pattern_id],
                examples=tuple(examples[pattern_id]),
                recommendation=pattern.recommendation,
                description=pattern.description,
            )
        )
    hits.sort(key=lambda hit: (-hit.severity.rank, -hit.count, hit.id))
    return hits
