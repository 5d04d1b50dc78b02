"""Masking of variable parts of raw log lines before template mining.

Mining works blind on whole lines, headers included, so everything that varies
between two occurrences of the same event must become `<*>` first: dates and
times (with month and weekday names), numbers, hex ids, UUIDs, IPs and ports,
URLs, e-mails, paths, durations and `key=value` numbers. One compiled
alternation does it in a single C-level pass; a second pass folds runs of
adjacent placeholders so that, say, a date and a time, or a list of numbers of
any length, become one `<*>` and lines keep the same token count.
"""

from __future__ import annotations

import re

PLACEHOLDER = "<*>"

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
_WEEKDAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*"
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Dates spelled with month names: syslog, Apache, Java, HTTP access logs.
# Digit runs are matched as `\d+`, never by length, so that two lines that
# differ only in their digits always mask alike (see `shape_key`).
_MONTH_DATE = re.compile(
    rf"\b(?:{_WEEKDAY},?\s+)?{_MONTH}\s+\d+(?:,?\s+\d+)?(?:\s+|T)\d+:\d+(?::\d+)?(?:[.,]\d+)?(?:\s+\d+)?\b"
    rf"|\b\d+[/ -]{_MONTH}[/ -]\d+(?::\d+:\d+:\d+)?(?:\s+[+-]\d+)?"
    rf"|\b{_WEEKDAY}\s+{_MONTH}\s+\d+\b"
)
_MONTH_HINT = re.compile(r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*[ /-]")
# Absolute paths of two or more segments, with or without digits.
_PATH = re.compile(r"(?<![\w/.:])/[\w.@%+~-]+(?:/[\w.@%+~-]*)+")
# Any whole token-initial run of identifier-ish characters containing a digit:
# numbers, durations (12ms), versions, hex ids, UUIDs, IPv4/IPv6 with ports,
# block ids glued to words (blk_-123), host names like node-246. The lazy
# start plus a one-character lookbehind keeps this pass linear and fast.
_TOKEN = r"[\w.:/\\#@+-]"
_DIGITS = re.compile(rf"(?<!{_TOKEN}){_TOKEN}*?\d{_TOKEN}*+")
# Adjacent placeholders separated only by punctuation or spaces fold into one.
_FOLD = re.compile(r"<\*>(?:[\s,;:./\\|_=+-]*<\*>)+")

# Lines longer than this are mined on their head only: the tail of a megabyte
# line is payload, not structure, and would cost memory in every cluster.
MAX_MINED_CHARS = 4096


def mask_line(line: str) -> str:
    """The line with every variable part replaced by `<*>`."""
    if len(line) > MAX_MINED_CHARS:
        line = line[:MAX_MINED_CHARS]
    # Each rarer shape is guarded by a cheap substring test; the digit rule
    # does most of the work in one pass.
    if "://" in line:
        line = _URL.sub(PLACEHOLDER, line)
    if "@" in line:
        line = _EMAIL.sub(PLACEHOLDER, line)
    if _MONTH_HINT.search(line):
        line = _MONTH_DATE.sub(PLACEHOLDER, line)
    if "/" in line:
        line = _PATH.sub(PLACEHOLDER, line)
    masked = _DIGITS.sub(PLACEHOLDER, line)
    if masked.count(PLACEHOLDER) > 1:
        masked = _FOLD.sub(PLACEHOLDER, masked)
    return masked


_ZERO_DIGITS = bytes.maketrans(b"123456789", b"000000000")


def shape_key(line: str) -> bytes:
    """The line with every run of ASCII digits folded to one `0`.

    Masking treats a digit run only by its presence, so lines with the same
    shape key always mask to the same text: the key lets a miner reuse the
    masking (and clustering) of an earlier line without running the regexes.
    """
    if len(line) > MAX_MINED_CHARS:
        line = line[:MAX_MINED_CHARS]
    return fold_digits(line.encode("utf-8", "surrogatepass"))


def fold_digits(data: bytes) -> bytes:
    """`data` with every run of ASCII digits folded to one `0` (see `shape_key`)."""
    data = data.translate(_ZERO_DIGITS)
    while b"00" in data:
        data = data.replace(b"00", b"0")
    return data


def tokenize(masked: str) -> list[str]:
    """Split a masked line into tokens on whitespace and `|` (pipe-separated headers)."""
    if "|" in masked:
        masked = masked.replace("|", " ")
    return masked.split()
