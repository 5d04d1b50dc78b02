"""Masking of variable parts of raw log lines before template mining.

Mining works blind on whole lines, headers included, so everything that varies
between two occurrences of the same event must become `<*>` first: dates and
times (with month and weekday names), numbers, hex ids, UUIDs, IPs and ports,
URLs, e-mails, paths, durations and `key=value` numbers.

Every token rule works inside one whitespace-separated token, so a line is
masked token by token (`mask_token`) and a miner can cache the decision per
token. Most tokens are settled by cheap character tests; only tokens that mix a
variable with punctuation (`sshd[24200]:`, `uid=0`) or carry a URL, an e-mail or
an `@` go through the regexes. A Java logger name keeps its words and masks
only its digit runs (`org.apache.hadoop.mapreduce.v<*>.app.MRAppMaster:`).

The line-wide rules come after (`finish_mask`): the host of a BSD syslog header
is masked whatever its name; runs of adjacent placeholders fold so that, say, a
date and a time, or a list of numbers of any length, become one `<*>` and lines
keep the same token count; for the same reason a bracketed context of several
words in the header (a thread name such as `[IPC Server handler 8 on 62270]`, a
request context, a date) becomes `[<*>]`, and a quoted `key="..."` value of
several words `key="<*>"`.

Digit runs only ever count by their presence, never their length or value, so
two lines whose `shape_key`s (digit runs and hex tails folded) agree mask alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

PLACEHOLDER = "<*>"

# Month and weekday names are dates wherever they stand as a word of their own
# (`Dec 10 06:55:46`, `[Sun Dec 04 ...]`, `Fri Jun 18 2004`).
_DATE_WORDS = frozenset(
    "Jan Feb Mar Apr May Jun Jul Aug Sep Sept Oct Nov Dec "
    "January February March April June July August September October November December "
    "Mon Tue Tues Wed Thu Thur Thurs Fri Sat Sun "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
)
# The month and weekday names a syslog header opens with (as `shape_key` folds them).
_MONTHS = frozenset("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())
_WEEKDAYS = frozenset("Mon Tue Wed Thu Fri Sat Sun".split())
# Punctuation that may wrap a date word inside its token: `[Sun`, `Dec,`.
_DATE_WRAP = "[](),;:"
_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Absolute paths of two or more segments, with or without digits.
_PATH = re.compile(r"(?<![\w/.:])/[\w.@%+~-]+(?:/[\w.@%+~-]*)+")
# Any whole token-initial run of identifier-ish characters containing a digit:
# numbers, durations (12ms), versions, hex ids, UUIDs, IPv4/IPv6 with ports,
# block ids glued to words (blk_-123), host names like node-246. The lazy
# start plus a one-character lookbehind keeps this pass linear and fast.
_TOKEN = r"[\w.:/\\#@+-]"
_DIGITS = re.compile(rf"(?<!{_TOKEN}){_TOKEN}*?\d{_TOKEN}*+")
# A dotted name of three or more identifiers, the first without a digit: a
# Java class or package (`org.apache.hadoop.mapreduce.v2.app.MRAppMaster:`).
# It names the logger, so only its digit runs are masked (each with the hex
# letters after it, as the shape key folds them), never the whole name.
_DOTTED_NAME = re.compile(r"[A-Za-z][A-Za-z_$]*(?:\.[A-Za-z_$][\w$]*){2,}[:,;]?")
_DIGIT_RUN = re.compile(r"\d[0-9a-fA-Fx]*")
# Adjacent placeholders separated only by punctuation or spaces fold into one.
_FOLD = re.compile(r"<\*>(?:[\s,;:./\\|_=+-]*<\*>)+")

# ASCII characters of `_TOKEN` (without `@`, which may start an e-mail) and of
# a path segment: a token made only of them is settled by character tests.
_WORD_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
_ID_CHARS = _WORD_CHARS + ".:/\\#+-"
_PATH_CHARS = _WORD_CHARS + ".%+~-/"
_DIGIT_CHARS = frozenset("0123456789")

# A header's bracketed context starts within its first tokens, and spans few.
HEADER_TOKENS = 6
_CONTEXT_TOKENS = 8
CONTEXT = "[<*>]"
_LETTER = re.compile(r"[^\W\d_]")

# Lines longer than this are mined on their head only: the tail of a megabyte
# line is payload, not structure, and would cost memory in every cluster.
MAX_MINED_CHARS = 4096


def mask_token(token: str) -> str:
    """One whitespace-free token with its variable parts replaced by `<*>`."""
    if not _DIGIT_CHARS.isdisjoint(token):
        if token[0].isalpha() and "." in token and _DOTTED_NAME.fullmatch(token):
            return _DIGIT_RUN.sub(PLACEHOLDER, token)
        if not token.strip(_ID_CHARS):
            # Numbers, ids, IPs, versions, durations: the whole token varies.
            return PLACEHOLDER
        return _mask_with_regexes(token)
    if token.isalpha():
        return PLACEHOLDER if token in _DATE_WORDS else token
    core = token.strip(_DATE_WRAP)
    if core in _DATE_WORDS:
        return token.replace(core, PLACEHOLDER, 1)
    if token.isascii() and "@" not in token and token.count("/") < 2:
        # Without a digit, an `@` or two slashes no rule applies.
        return token
    if token[0] == "/" and token[1:2] != "/" and not token.strip(_PATH_CHARS):
        return PLACEHOLDER
    return _mask_with_regexes(token)


def _mask_with_regexes(token: str) -> str:
    if "://" in token:
        token = _URL.sub(PLACEHOLDER, token)
    if "@" in token:
        token = _EMAIL.sub(PLACEHOLDER, token)
    if "/" in token:
        token = _PATH.sub(PLACEHOLDER, token)
    token = _DIGITS.sub(PLACEHOLDER, token)
    if token.count(PLACEHOLDER) > 1:
        token = _FOLD.sub(PLACEHOLDER, token)
    return token


def fold_placeholders(masked: str) -> str:
    """Runs of placeholders separated only by spaces or punctuation become one."""
    if masked.count(PLACEHOLDER) > 1:
        return _FOLD.sub(PLACEHOLDER, masked)
    return masked


def has_letter(token: str) -> bool:
    """Whether a masked token has a letter outside its placeholders (`task_<*>`, not `<*>]`)."""
    return _LETTER.search(token.replace(PLACEHOLDER, "")) is not None


def is_component(token: str) -> bool:
    """Whether a masked token ends a header's component: `sshd[<*>]:`, `WindowManager:`.

    A word ending in a colon, with a letter outside its placeholders; a masked
    number before a colon (`<*>:`) is no component.
    """
    return token[-1:] == ":" and has_letter(token)


def collapse_context(masked: str) -> str:
    """The header's bracketed context of several tokens, if any, as one `[<*>]`.

    A thread name (`[RMCommunicator Allocator]`), a request context or a date in
    brackets varies in word count between lines of one event; as one token it
    stops splitting the event by length. Only the line's first bracket, when it
    opens within the first `HEADER_TOKENS` tokens and before the component
    (`name:`), counts, so brackets in the message (`message repeated 5 times:
    [ Failed ...]`, `[-] [instance: <*>] ...`) stay.
    """
    if "[" not in masked:
        return masked
    # The header and the tokens a context may span; the rest stays one string.
    tokens = masked.split(" ", HEADER_TOKENS + _CONTEXT_TOKENS)
    whole = len(tokens) <= HEADER_TOKENS + _CONTEXT_TOKENS
    for start, token in enumerate(tokens[:HEADER_TOKENS]):
        if token[:1] == "[":
            if token[-1:] == "]":
                return masked
            ends = len(tokens) if whole else len(tokens) - 1
            for end in range(start + 1, min(ends, start + _CONTEXT_TOKENS)):
                if tokens[end][-1:] == "]":
                    return " ".join([*tokens[:start], CONTEXT, *tokens[end + 1 :]])
            return masked
        if is_component(token):
            return masked
    return masked


def syslog_host(tokens: Sequence[str]) -> int:
    """Position of the host in a syslog header (`Dec 10 06:55:46 host sshd[1]: ...`), or -1.

    The host of a BSD syslog line varies like its date (`calvisitor-10-105-1`,
    `authorMacBook-Pro`): masked only when it has a digit, it would fold into
    the date on some lines and not others and split their events by length.
    """
    start = 1 if tokens[:1] and tokens[0] in _WEEKDAYS else 0
    if len(tokens) > start + 4 and tokens[start] in _MONTHS:
        time = tokens[start + 2]
        if ":" in time and not _DIGIT_CHARS.isdisjoint(time):
            return start + 3
    return -1


def collapse_quoted(masked: str) -> str:
    """Each quoted value of several words in a `key="..."` pair as `key="<*>"`.

    A tag or a name in quotes (`tag="View Lock",`) varies in word count
    between lines of one event, like a thread name; as one token it stops
    splitting the event by length.
    """
    if '="' not in masked:
        return masked
    tokens = masked.split(" ")
    out: list[str] = []
    position = 0
    while position < len(tokens):
        token = tokens[position]
        position += 1
        opening = token.find('="')
        if opening >= 0 and '"' not in token[opening + 2 :]:
            for end in range(position, min(len(tokens), position + _CONTEXT_TOKENS)):
                closing = tokens[end].find('"')
                if closing < 0:
                    continue
                rest = tokens[end][closing + 1 :]
                if '"' not in rest:
                    token = f'{token[: opening + 2]}{PLACEHOLDER}"{rest}'
                    position = end + 1
                break
        out.append(token)
    return " ".join(out)


def finish_mask(tokens: Sequence[str], masked: list[str]) -> str:
    """A line's masked tokens, its syslog host masked, folded and joined."""
    host = syslog_host(tokens)
    if host >= 0:
        masked[host] = PLACEHOLDER
    return collapse_quoted(collapse_context(fold_placeholders(" ".join(masked))))


def mask_line(line: str) -> str:
    """The line's tokens, variable parts replaced by `<*>`, joined by single spaces."""
    if len(line) > MAX_MINED_CHARS:
        line = line[:MAX_MINED_CHARS]
    tokens = line.split()
    return finish_mask(tokens, list(map(mask_token, tokens)))


_ZERO_DIGITS = bytes.maketrans(b"123456789", b"000000000")
# After the digits became `0` and runs of them were shortened by plain
# replacements: a digit with the hex letters and digits that follow it (`0x1f`,
# a hex id's tail) or a remaining run of digits. Its literal `0` prefix lets
# the regex engine skip ahead to the few candidates, so the pass stays cheap.
_HEX_RUN = re.compile(rb"0[0a-fA-Fx][0-9a-fA-Fx]*")
# A syslog or Apache date at the head of a line: the month (and a weekday just
# before it) are date words, all masked alike, so they fold to one month, and
# the spaces after it to one (a padded day, `Jan  2`): masking sees tokens,
# never the space between them.
_DATE_HEAD = (
    rb"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) )?(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) +"
)
_LEADING_DATE = re.compile(rb"\n" + _DATE_HEAD)
_LEADING_BRACKETED_DATE = re.compile(rb"\n\[" + _DATE_HEAD)
_PATH_TOKEN = re.compile(rb" /[\w.%+~-]+/[\w.%+~/-]*(?=[ \n]|\Z)")
# A digitless path token ended by a colon (`Error loading /a/b: ...`) masks
# to `<*>:`, as does `/_/:`; with a digit the colon would be masked with it.
_PATH_COLON_TOKEN = re.compile(rb" /[A-Za-z_.%+~-]+/[A-Za-z_.%+~/-]*(?=:[ \n]|:\Z)")


def shape_key(line: str) -> bytes:
    """A cheap key of the line such that lines with equal keys mask alike.

    ASCII digits become `0`, then each run of `0`s with the hex digits and `x`
    right after it folds to one `0`, whole path tokens fold to `/0/` (or `/_/`
    when digitless and ended by a colon), a leading
    date's month to `Jan` and the spaces after it to one. Every rule of
    `mask_token` sees those characters only as part of one run of identifier
    characters that it masks whole, so the key's tokens mask exactly like the
    line's: a miner can reuse the masking (and clustering) of an earlier line
    with the same key, and mask the key's text instead of the line.
    """
    if len(line) > MAX_MINED_CHARS:
        line = line[:MAX_MINED_CHARS]
    return _fold(b"\n" + line.encode("utf-8", "surrogatepass"))[1:]


def python_shape_keys(lines: Sequence[str]) -> list[bytes]:
    """`shape_key` of every line, folded in one pass over the joined lines."""
    text = "\n".join(lines)
    if text.isascii() and max(map(len, lines), default=0) <= MAX_MINED_CHARS:
        keys = _fold(b"\n" + text.encode("ascii")).split(b"\n")
        if len(keys) == len(lines) + 1:
            del keys[0]
            return keys
    # Non-ASCII text, over-long or embedded-newline lines: one at a time.
    return list(map(shape_key, lines))


try:
    # The same keys from C (`_shapekey.c`), several times faster; the build
    # compiles it where a compiler is present.
    from ailogs.analysis._shapekey import shape_keys as shape_keys
except ImportError:  # pragma: no cover - exercised where no compiler was found
    shape_keys = python_shape_keys

NATIVE_SHAPE_KEYS = shape_keys is not python_shape_keys


def _fold(data: bytes) -> bytes:
    # `data` is one or more lines, each led by a newline.
    data = data.translate(_ZERO_DIGITS).replace(b"000", b"0").replace(b"00", b"0")
    data = _HEX_RUN.sub(b"0", data)
    # Literal replacements: a group reference would cost a Python call per match.
    data = _LEADING_DATE.sub(b"\nJan ", data)
    if b"\n[" in data:
        data = _LEADING_BRACKETED_DATE.sub(b"\n[Jan ", data)
    if b" /" in data:
        data = _PATH_COLON_TOKEN.sub(b" /_/", _PATH_TOKEN.sub(b" /0/", data))
    return data


def tokenize(masked: str) -> list[str]:
    """Split a masked line into tokens on whitespace and `|` (pipe-separated headers)."""
    if "|" in masked:
        masked = masked.replace("|", " ")
    return masked.split()
