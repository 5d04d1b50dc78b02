"""Mask secrets and personal data in log text before ailogs hands it to anyone.

Pure: text in, text out. One compiled alternation per configuration, so a line
without anything to mask costs one regex scan. Matches never include `"` or a
backslash, and never start right after a backslash, so masking the raw JSON
text of a line keeps it valid JSON (a `\\u00e9` escape is not mistaken for text).

Classes (names are stable configuration values):

- `keys`: provider API keys: `sk-...` (OpenAI/Anthropic style), `AKIA...` (AWS),
  `ghp_`/`gho_`/`ghs_`/`github_pat_` (GitHub), `xox?-` (Slack), `AIza...` (Google).
- `tokens`: `Bearer <token>` and `Basic <credentials>` values.
- `jwt`: three base64url segments starting `eyJ`.
- `passwords`: the value of `password`/`passwd`/`secret`/`api_key`/`token`-like keys
  in `key=value`, `key: value` and JSON `"key": "value"` forms.
- `emails`: addresses.
- `cards`: 13-19 digit card numbers that pass the Luhn check.
- `ips`: IPv4 addresses (off by default: they are often what you debug).
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import accumulate, chain, compress
from operator import attrgetter, is_not, itemgetter
from typing import Any

import hyperscan
import orjson

from ailogs.answer_rows import Row, record_of_row, row_of
from ailogs.domain import LogRecord

DEFAULT_CLASSES = ("keys", "tokens", "jwt", "passwords")

_NOT_ESCAPED = r"(?<![\\A-Za-z0-9_])"
# Names whose value is a secret: `passwords` masks what follows them in text, and
# the whole value of a field (JSON body or structured metadata) so named.
_SECRET_KEYS = (
    r"(?i:\b(?:password|passwd|pwd|secret|client_secret"
    r"|api[_-]?key|access[_-]?key|secret[_-]?key|auth[_-]?token|access[_-]?token"
    r"|refresh[_-]?token)\b)"
)
_SECRET_KEY = re.compile(_SECRET_KEYS)

# name -> (regex, replacement kind). Group `keep` (when present) is kept verbatim.
_PATTERNS: dict[str, str] = {
    "keys": _NOT_ESCAPED + r"(?:sk-(?:ant-|proj-|live-|test-)?[A-Za-z0-9_\-]{16,}"
    r"|(?:AKIA|ASIA)[A-Z0-9]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}"
    r"|xox[abprs]-[A-Za-z0-9\-]{10,}"
    r"|AIza[A-Za-z0-9_\-]{35})",
    "tokens": r"(?P<tokens_keep>\b(?:[Bb]earer|BEARER|[Bb]asic)\s+)[A-Za-z0-9._~+/\-]{8,}=*",
    "jwt": _NOT_ESCAPED + r"eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}",
    "passwords": r"(?P<passwords_keep>" + _SECRET_KEYS + r"\"?\s*[:=]\s*\"?)[^\s\"\\,;&}]{1,256}",
    "emails": _NOT_ESCAPED
    + r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
    "cards": r"(?<![0-9])(?:[0-9][ \-]?){12,18}[0-9](?![0-9])",
    "ips": r"(?<![0-9.])(?:(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(?![0-9.])",
}
ALL_CLASSES = tuple(_PATTERNS)

# Hyperscan prefilters: every match of a class contains one of these (caseless).
# A batch of lines is scanned in one call; only lines with a hit run the Python
# regexes, so a clean line costs well under a microsecond. Hyperscan reads bytes:
# where Python's regexes read Unicode (`\s`, `(?i)`, `\b`), a trigger takes any
# byte beyond ASCII too, and the letters Python folds onto ASCII ones (long s,
# Kelvin sign, dotted and dotless i) make their text a suspect.
_UNICODE_SPACE = "[\\s\\x1c-\\x1f\\x80-\\xff]"
_FOLDS_TO_ASCII = ("\\xc5\\xbf", "\\xe2\\x84\\xaa", "\\xc4\\xb0", "\\xc4\\xb1")
_TRIGGERS: dict[str, tuple[str, ...]] = {
    "keys": ("sk-", "AKIA", "ASIA", "gh[pousr]_", "github_pat_", "xox[abprs]-", "AIza"),
    "tokens": ("bearer" + _UNICODE_SPACE, "basic" + _UNICODE_SPACE),
    "jwt": ("eyJ",),
    # The names of _SECRET_KEYS, not every word holding "key" or "token"
    # (`input_tokens`, `cache_key`): AI operation lines are full of those.
    "passwords": (_SECRET_KEYS.removeprefix("(?i:").removesuffix(")"), *_FOLDS_TO_ASCII),
    "emails": ("@",),
    "cards": ("[0-9][ \\-]?[0-9][ \\-]?[0-9][ \\-]?[0-9][ \\-]?[0-9][ \\-]?[0-9]",),
    "ips": ("[0-9]\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]",),
}
_BLOCK_LINES = 2048
# JSON escapes behind which a text reads otherwise than its bytes, for a trigger:
# a backslash of the text itself, and every escape written with a letter (the
# letter would join a word, and stands for whitespace or anything at all).
_TEXT_ESCAPES = (rb"\\\\", rb"\\b", rb"\\f", rb"\\n", rb"\\r", rb"\\t", rb"\\u")


def _collect(pattern: int, start: int, end: int, flags: int, context: Any) -> None:
    context.append(end)


def _stop(pattern: int, start: int, end: int, flags: int, context: Any) -> bool:
    return True  # the first match answers `finds`


class _Prefilter:
    """One Hyperscan database of the triggers of some classes, and of `exact` patterns."""

    def __init__(self, classes: Sequence[str], exact: Sequence[bytes] = ()) -> None:
        triggers = [t.encode("ascii") for name in classes for t in _TRIGGERS[name]]
        self._lock = threading.Lock()
        self._database: Any = None
        if not triggers:
            return
        expressions = [*triggers, *exact]
        database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        database.compile(
            expressions=expressions,
            ids=list(range(len(expressions))),
            elements=len(expressions),
            flags=[hyperscan.HS_FLAG_CASELESS] * len(triggers) + [0] * len(exact),
        )
        self._database = database

    def finds(self, data: bytes) -> bool:
        """True when the UTF-8 text `data` matches a trigger or an exact pattern."""
        if self._database is None:
            return False
        try:
            with self._lock:
                self._database.scan(data, match_event_handler=_stop)
        except hyperscan.ScanTerminated:
            return True
        return False

    def suspects(self, texts: Sequence[str]) -> set[int]:
        """Indexes of the texts that contain at least one trigger."""
        found: set[int] = set()
        if self._database is None:
            return found
        for offset in range(0, len(texts), _BLOCK_LINES):
            block = texts[offset : offset + _BLOCK_LINES]
            # One text and one encoding per block; a clean block needs nothing more.
            joined = "\n".join(block)
            data = joined.encode("utf-8", "surrogatepass")
            ends: list[int] = []
            with self._lock:
                self._database.scan(data, match_event_handler=_collect, context=ends)
            if not ends:
                continue
            # Hyperscan reports byte offsets: they are character offsets when all is ASCII.
            sizes = (
                map(len, block)
                if len(data) == len(joined)
                else (len(text.encode("utf-8", "surrogatepass")) for text in block)
            )
            starts = list(accumulate((size + 1 for size in sizes), initial=0))
            for end in ends:
                found.add(offset + bisect_right(starts, end - 1) - 1)
        return found


def parse_classes(text: str) -> tuple[str, ...]:
    """Parse a comma list of class names (`none` or empty: nothing); ValueError if unknown."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names or names == ["none"]:
        return ()
    if names == ["all"]:
        return ALL_CLASSES
    unknown = sorted(set(names) - set(ALL_CLASSES))
    if unknown:
        raise ValueError(f"unknown redaction classes {unknown}; use {', '.join(ALL_CLASSES)}")
    return tuple(dict.fromkeys(names))


def luhn_valid(digits: str) -> bool:
    """True when a digit string passes the Luhn checksum."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


@dataclass(frozen=True)
class Redactor:
    """Masks the configured classes; `Redactor(())` is a no-op."""

    classes: tuple[str, ...] = DEFAULT_CLASSES

    def __post_init__(self) -> None:
        unknown = set(self.classes) - set(ALL_CLASSES)
        if unknown:
            raise ValueError(f"unknown redaction classes {sorted(unknown)}")
        compiled = tuple(re.compile(f"(?P<{name}>{_PATTERNS[name]})") for name in self.classes)
        object.__setattr__(self, "_compiled", compiled)
        object.__setattr__(self, "_prefilter", _Prefilter(self.classes))
        object.__setattr__(self, "_body_prefilter", _Prefilter(self.classes, _TEXT_ESCAPES))

    @property
    def enabled(self) -> bool:
        """True when at least one class is masked."""
        return bool(self.classes)

    def redact(self, text: str) -> str:
        """The text with every configured secret replaced by `[REDACTED:<class>]`."""
        if not text or not self.classes:
            return text
        compiled: tuple[re.Pattern[str], ...] = getattr(self, "_compiled")  # noqa: B009
        for regex in compiled:
            if regex.search(text):
                text = regex.sub(_replacement, text)
        return text

    def redact_many(self, texts: Sequence[str]) -> list[str]:
        """Redact many texts; clean ones are returned as they are (one prefilter pass)."""
        out = list(texts)
        for index in self._suspects(texts):
            out[index] = self.redact(texts[index])
        return out

    def _suspects(self, texts: Sequence[str]) -> set[int]:
        prefilter: _Prefilter = getattr(self, "_prefilter")  # noqa: B009
        return prefilter.suspects(texts)

    def redact_value(self, value: Any) -> Any:
        """Redact every string inside a JSON-like value (dicts, lists, strings)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {key: self.redact_value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.redact_value(item) for item in value]
        return value

    def redact_record(self, record: LogRecord) -> LogRecord:
        """A record whose line, message, fields and metadata are masked (same object if clean)."""
        if not self.classes:
            return record
        line = self.redact(record.line)
        message = self.redact(record.message)
        metadata = record.metadata
        masked = self.redact_fields(metadata) if metadata else metadata
        if line is record.line and message is record.message and masked == metadata:
            return record
        return replace(
            record,
            line=line,
            message=message,
            fields=self.redact_fields(record.fields),
            metadata=masked,
        )

    def redact_fields(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Fields with string values masked, and the whole value of a secret-named field."""
        return {key: self._redact_field(key, value) for key, value in fields.items()}

    def _redact_field(self, key: Any, value: Any) -> Any:
        if (
            "passwords" in self.classes
            and isinstance(key, str)
            and _SECRET_KEY.search(key)
            and isinstance(value, str | int | float)
            and not isinstance(value, bool)
            and value != ""
        ):
            return "[REDACTED:passwords]"
        if isinstance(value, dict):
            return {name: self._redact_field(name, item) for name, item in value.items()}
        if isinstance(value, list):
            return [self._redact_field(key, item) for item in value]
        return self.redact(value) if isinstance(value, str) else value

    def redact_metadata(
        self, metadata: Sequence[Mapping[str, str] | None]
    ) -> list[Mapping[str, str] | None]:
        """Redact many structured-metadata maps (names and values probed); one prefilter pass."""
        out = list(metadata)
        if not self.classes:
            return out
        blank = [""] * len(out)
        for index in self.suspects(blank, blank, out):
            out[index] = self.redact_fields(out[index] or {})
        return out

    def suspects(
        self,
        lines: Sequence[str],
        messages: Sequence[str],
        metadata: Sequence[Mapping[str, str] | None],
    ) -> set[int]:
        """Indexes of the records whose line, message or structured metadata holds a trigger.

        `lines`, `messages` and `metadata` run in parallel, one item per record. All of
        it goes to the prefilter as one text; the regexes then run on the suspects only.
        """
        texts = list(lines)
        count = len(texts)
        # A message is the line itself or, from a JSON body, usually a piece of it:
        # probing every other message costs less than finding the pieces, and finds
        # what only the decoded text shows.
        apart = list(compress(range(count), map(is_not, messages, lines)))
        texts += [messages[i] for i in apart]
        # Structured metadata is not in the line: probe its values, and its names
        # (few distinct ones per batch) once each, unless all of it is clean.
        values_at = len(texts)
        names: list[str] = []
        owners: list[int] = []
        maps: list[Mapping[str, str]] = []
        if self._metadata_is_clean(metadata):
            names_at = values_at
            hits = self._suspects(texts)
            value_owners: Sequence[int] | None = None
        else:
            owners = list(compress(range(count), metadata))
            maps = [metadata[i] or {} for i in owners]
            hits, names, names_at, value_owners = self._probe_metadata(texts, owners, maps)
        found: set[int] = set()
        flagged: set[str] = set()
        for hit in hits:
            if hit < count:
                found.add(hit)
            elif hit < values_at:
                found.add(apart[hit - count])
            elif hit < names_at:
                if value_owners is None:
                    value_owners = [owner for owner, m in zip(owners, maps, strict=True) for _ in m]
                found.add(value_owners[hit - values_at])
            else:
                flagged.add(names[hit - names_at])
        if flagged:
            found.update(
                owner for owner, m in zip(owners, maps, strict=True) if not flagged.isdisjoint(m)
            )
        return found

    def body_is_clean(self, body: bytes) -> bool:
        """True when no line, message or metadata of a Loki JSON answer can hold a trigger.

        One probe of the answer as Loki sent it, before anything is decoded. Unless
        it holds one of `_TEXT_ESCAPES` (then the answer is probed text by text),
        every line and metadata text is in the body as it is, but for escaped
        characters no trigger holds (quote, slash, backspace), and a message
        decoded from a line with no backslash is a piece of that line.
        """
        prefilter: _Prefilter = getattr(self, "_body_prefilter")  # noqa: B009
        return not prefilter.finds(body)

    def _metadata_is_clean(self, metadata: Sequence[Mapping[str, str] | None]) -> bool:
        """True when no metadata map can hold a secret, by one probe of them all.

        Their JSON text holds every name and string value as it is, unless one has
        a character JSON escapes, which shows as a backslash: no backslash and no
        trigger there means none in any name or value. Anything else is probed
        map by map.
        """
        prefilter: _Prefilter = getattr(self, "_prefilter")  # noqa: B009
        try:
            text = orjson.dumps(metadata)
        except TypeError:  # not JSON (non-string names, surrogates): probe map by map
            return False
        return b"\\" not in text and not prefilter.finds(text)

    def _probe_metadata(
        self, texts: list[str], owners: Sequence[int], maps: Sequence[Mapping[str, str]]
    ) -> tuple[set[int], list[str], int, Sequence[int] | None]:
        """Probe `texts`, then the values and names of `maps`, appended to them.

        Returns the hits, the names probed, where they start in `texts`, and the
        owner of each probed metadata text when it is not one per value (None).
        """
        values_at = len(texts)
        try:
            texts += chain.from_iterable(map(dict.values, maps))  # type: ignore[arg-type]
            names = sorted(set().union(*maps))
            names_at = len(texts)
            texts += names
            return self._suspects(texts), names, names_at, None
        except TypeError:  # Loki sends dicts of strings; anything else is probed as text
            del texts[values_at:]
            texts += map(_metadata_probe, maps)
            return self._suspects(texts), [], len(texts), owners

    def redact_records(self, records: Sequence[LogRecord]) -> list[LogRecord]:
        """Redact many records: one prefilter pass, the regexes only where it found a trigger."""
        out = list(records)
        if not self.classes or not out:
            return out
        suspects = self.suspects(
            list(map(_LINE, out)), list(map(_MESSAGE, out)), list(map(_METADATA, out))
        )
        for index in suspects:
            out[index] = self.redact_record(out[index])
        return out

    def redact_rows(self, rows: Sequence[Row]) -> list[Row]:
        """Redact the rows of an answer as `redact_records` does their records."""
        out = list(rows)
        if not self.classes or not out:
            return out
        _, lines, metadata, entries, _ = zip(*out, strict=True)
        suspects = self.suspects(lines, list(map(_ENTRY_MESSAGE, entries)), metadata)
        for index in suspects:
            record = record_of_row(out[index])
            masked = self.redact_record(record)
            if masked is not record:
                entry = entries[index]
                out[index] = row_of(masked, entry["timestamp"], entry["labels"])
        return out


_LINE = attrgetter("line")
_MESSAGE = attrgetter("message")
_METADATA = attrgetter("metadata")
_ENTRY_MESSAGE = itemgetter("message")


def _metadata_probe(metadata: Mapping[str, str] | None) -> str:
    """One text of a metadata map's names and values, for the prefilter."""
    if not metadata:
        return ""
    try:
        return "\n".join([*metadata, *metadata.values()])
    except TypeError:  # Loki sends strings; anything else is probed as text
        return "\n".join(str(part) for part in [*metadata, *metadata.values()])


def _replacement(match: re.Match[str]) -> str:
    name = match.lastgroup or "secret"
    if name == "cards":
        digits = re.sub(r"[ \-]", "", match.group(0))
        if not luhn_valid(digits):
            return match.group(0)
    keep = match.groupdict().get(f"{name}_keep") or ""
    return f"{keep}[REDACTED:{name}]"


def redactor_for(text: str) -> Redactor:
    """A Redactor for a configuration string such as `keys,tokens,emails`."""
    return Redactor(parse_classes(text))


RecordsRedactor = Callable[[Sequence[LogRecord]], list[LogRecord]]
