"""A /query answer is serialized once; cache payloads and responses are spliced, not re-encoded."""

from __future__ import annotations

import orjson
import pytest

from ailogs.domain import CacheStatus
from ailogs.services.query import QueryAnswer

BODY = {
    "mode": "errors",
    "entries": [{"message": 'line\nwith "quotes", \\ and }{ braces', "fields": {"é": "ü"}}],
    "patterns": [],
}
STATS = {"returned": 1, "truncated": True, "cache": "miss"}


def test_render_is_the_whole_answer_with_stats_and_cursor() -> None:
    answer = QueryAnswer(orjson.dumps(BODY), STATS, (1795252947057639339, ("ab", "cd")))
    assert orjson.loads(answer.render("next")) == {**BODY, "stats": STATS, "next_cursor": "next"}
    assert answer.to_dict() == {**BODY, "stats": STATS, "next_cursor": None}


def test_a_packed_answer_comes_back_identical_and_marked() -> None:
    answer = QueryAnswer(orjson.dumps(BODY), STATS, (1795252947057639339, ("ab", "cd")))
    back = QueryAnswer.unpack(answer.pack())
    assert back == answer
    assert back is not None
    hit = back.with_cache(CacheStatus.HIT)
    assert hit.stats["cache"] == "hit"
    assert answer.stats["cache"] == "miss"  # marking never mutates the shared answer


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"not json\n{}",
        b'{"stats": {}}',
        b'{"stats": {}, "length": 6}\n[1, 2]',
        b"[]\n{}",
        b"\n\n",
        b'{"stats": {}, "length": 2}\n{}',
        b'{"stats": [], "length": 8}\n{"a": 1}',
        b'{"stats": {}, "tail": 5, "length": 8}\n{"a": 1}',
        b'{"stats": {}, "tail": ["x", []], "length": 8}\n{"a": 1}',
    ],
)
def test_payloads_that_are_not_answers_are_misses(payload: bytes) -> None:
    assert QueryAnswer.unpack(payload) is None


def test_a_payload_cut_short_is_a_miss_even_when_it_still_ends_in_a_brace() -> None:
    answer = QueryAnswer(orjson.dumps({"entries": [{"a": {}}, {"b": {}}]}), STATS)
    packed = answer.pack()
    assert QueryAnswer.unpack(packed) == answer
    cut = packed[: packed.rindex(b"}", 0, len(packed) - 3) + 1]
    assert cut.endswith(b"}")
    assert QueryAnswer.unpack(cut) is None
