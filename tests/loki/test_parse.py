"""Loki's answers as the `/query` hot path reads them: rows, the same lines records are."""

from __future__ import annotations

import pytest

from ailogs.answer_rows import entry_of_row
from ailogs.errors import LokiUnavailable
from ailogs.loki.parse import parse_log_rows, parse_query_response
from tests.conftest import loki_fixture


@pytest.mark.parametrize("name", ["query_range_streams_categorized", "query_range_streams"])
def test_rows_are_the_records_of_the_same_answer(name: str) -> None:
    body = loki_fixture(name)["body"].encode()
    response = parse_query_response(body)

    rows, stats = parse_log_rows(body)

    assert rows
    assert list(map(entry_of_row, rows)) == [r.to_entry() for r in response.records]
    assert [row[:3] for row in rows] == [
        (r.timestamp_ns, r.line, r.metadata) for r in response.records
    ]
    assert stats == response.stats


def test_a_metric_answer_has_no_rows_but_its_stats() -> None:
    body = loki_fixture("query_range_matrix_quantile")["body"].encode()
    assert parse_log_rows(body) == ([], parse_query_response(body).stats)


@pytest.mark.parametrize(
    "body", [b"<html>", b"[]", b'{"data": 1}', b'{"data": {"resultType": "tree"}}']
)
def test_bodies_that_are_not_answers_are_unavailable(body: bytes) -> None:
    with pytest.raises(LokiUnavailable):
        parse_log_rows(body)
