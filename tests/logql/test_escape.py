"""The escaper never lets a value change the shape of a LogQL query."""

from __future__ import annotations

import codecs
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ailogs.logql import quote_meta, quote_string, regex_alternation


def go_unquote(literal: str) -> str:
    """What Go's strconv.Unquote would read back from a LogQL string literal."""
    assert literal.startswith('"')
    assert literal.endswith('"')
    body = literal[1:-1]
    # An unescaped quote inside would end the string early.
    assert re.search(r'(?<!\\)(\\\\)*"', body) is None
    return codecs.decode(body.encode("utf-8"), "unicode_escape").encode("latin-1").decode("utf-8")


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("api", '"api"'),
        ('a"b', r'"a\"b"'),
        ("back\\slash", r'"back\\slash"'),
        ('"}', r'"\"}"'),
        ("line\nbreak", r'"line\nbreak"'),
        ("tab\there", r'"tab\there"'),
        ("`tick`", '"`tick`"'),
        ("nul\x00", r'"nul\x00"'),
        ("ünïcode ✓", '"ünïcode ✓"'),
    ],
)
def test_quote_string_escapes_for_go(value: str, literal: str) -> None:
    assert quote_string(value) == literal


@pytest.mark.parametrize(
    ("value", "escaped"),
    [
        ("auth.v2", r"auth\.v2"),
        (".+", r"\.\+"),
        ("a|b", r"a\|b"),
        ("(x)[y]{z}", r"\(x\)\[y\]\{z\}"),
        ("^$*?", r"\^\$\*\?"),
        ("back\\", "back\\\\"),
        ("plain-name_1", "plain-name_1"),
    ],
)
def test_quote_meta_matches_go_regexp_quotemeta(value: str, escaped: str) -> None:
    assert quote_meta(value) == escaped


def test_alternation_is_sorted_and_deduplicated() -> None:
    assert regex_alternation(["worker", "api", "api"]) == "api|worker"


@given(st.text(max_size=64))
def test_any_string_round_trips_through_a_literal(value: str) -> None:
    # Lone surrogates cannot reach Loki as UTF-8; they are replaced, never unescaped.
    if any("\ud800" <= c <= "\udfff" for c in value):
        return
    assert go_unquote(quote_string(value)) == value


@given(st.lists(st.text(min_size=1, max_size=16), min_size=1, max_size=5), st.text(max_size=16))
def test_alternation_matches_only_its_literal_items(items: list[str], probe: str) -> None:
    # RE2 and Python agree on QuoteMeta output; Loki anchors label regexes fully.
    pattern = re.compile(f"^(?:{regex_alternation(items)})$", re.DOTALL)
    assert all(pattern.match(item) for item in items)
    assert bool(pattern.match(probe)) == (probe in items)
