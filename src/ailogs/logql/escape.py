"""Escaping for the three contexts a user value can reach in LogQL.

LogQL strings are Go double-quoted strings (`strconv.Unquote`), and regex
matchers are RE2, fully anchored. A value is made safe for its context:

- label / metadata equality, line filters: `quote_string(value)`
- regex matchers: `quote_string(quote_meta(value))` — RE2-escape first, then
  string-escape, so `auth.v2` matches only `auth.v2` and `.+` only `.+`.
"""

from __future__ import annotations

from collections.abc import Iterable

# Exactly the characters Go's regexp.QuoteMeta escapes.
_RE2_SPECIAL = frozenset(r"\.+*?()|[]{}^$")

_STRING_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\v": "\\v",
}


def quote_string(value: str) -> str:
    """Render `value` as a LogQL double-quoted string literal, quotes included."""
    out: list[str] = ['"']
    for char in value:
        escaped = _STRING_ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif char < " " or char == "\x7f":
            out.append(f"\\x{ord(char):02x}")
        elif "\ud800" <= char <= "\udfff":
            # A lone surrogate cannot be UTF-8 encoded; Go would see U+FFFD anyway.
            out.append("\\ufffd")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def quote_meta(value: str) -> str:
    """Escape RE2 metacharacters so the regex matches `value` literally."""
    return "".join("\\" + char if char in _RE2_SPECIAL else char for char in value)


def regex_alternation(values: Iterable[str]) -> str:
    """An RE2 alternation matching exactly one of `values`, each taken literally."""
    items = sorted({quote_meta(value) for value in values})
    if not items:
        raise ValueError("an alternation needs at least one value")
    return "|".join(items)
