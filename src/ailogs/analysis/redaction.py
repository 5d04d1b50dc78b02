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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ailogs.domain import LogRecord

DEFAULT_CLASSES = ("keys", "tokens", "jwt", "passwords")

_NOT_ESCAPED = r"(?<![\\A-Za-z0-9_])"

# name -> (regex, replacement kind). Group `keep` (when present) is kept verbatim.
_PATTERNS: dict[str, str] = {
    "keys": _NOT_ESCAPED + r"(?:sk-(?:ant-|proj-|live-|test-)?[A-Za-z0-9_\-]{16,}"
    r"|(?:AKIA|ASIA)[A-Z0-9]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}"
    r"|xox[abprs]-[A-Za-z0-9\-]{10,}"
    r"|AIza[A-Za-z0-9_\-]{35})",
    "tokens": r"(?P<tokens_keep>\b(?:[Bb]earer|BEARER|[Bb]asic)\s+)[A-Za-z0-9._~+/\-]{8,}=*",
    "jwt": _NOT_ESCAPED + r"eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}",
    "passwords": r"(?P<passwords_keep>(?i:\b(?:password|passwd|pwd|secret|client_secret"
    r"|api[_-]?key|access[_-]?key|secret[_-]?key|auth[_-]?token|access[_-]?token"
    r"|refresh[_-]?token)\b)\"?\s*[:=]\s*\"?)[^\s\"\\,;&}]{1,256}",
    "emails": _NOT_ESCAPED
    + r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
    "cards": r"(?<![0-9])(?:[0-9][ \-]?){12,18}[0-9](?![0-9])",
    "ips": r"(?<![0-9.])(?:(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])(?![0-9.])",
}
ALL_CLASSES = tuple(_PATTERNS)


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
        union = "|".join(f"(?P<{name}>{_PATTERNS[name]})" for name in self.classes)
        object.__setattr__(self, "_regex", re.compile(union) if union else None)

    @property
    def enabled(self) -> bool:
        """True when at least one class is masked."""
        return bool(self.classes)

    def redact(self, text: str) -> str:
        """The text with every configured secret replaced by `[REDACTED:<class>]`."""
        regex: re.Pattern[str] | None = getattr(self, "_regex")  # noqa: B009
        if regex is None or not text:
            return text
        return regex.sub(_replacement, text) if regex.search(text) else text

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
        """A record whose line, message and string fields are masked (same object if clean)."""
        if not self.classes:
            return record
        line = self.redact(record.line)
        message = self.redact(record.message)
        if line is record.line and message is record.message:
            return record
        return replace(record, line=line, message=message, fields=self.redact_fields(record.fields))

    def redact_fields(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Fields with string values masked."""
        return {key: self.redact_value(value) for key, value in fields.items()}

    def redact_records(self, records: Iterable[LogRecord]) -> list[LogRecord]:
        """Redact many records."""
        return [self.redact_record(record) for record in records]


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


RecordRedactor = Callable[[LogRecord], LogRecord]
