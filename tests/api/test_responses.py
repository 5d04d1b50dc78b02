"""JSONAnswer renders plain answers fast and odd ones without failing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import orjson

from ailogs.api.responses import JSONAnswer


def test_plain_answers_are_plain_orjson() -> None:
    answer = {"entries": [{"message": 'quote " and \\ backslash', "fields": {"n": 1}}]}
    assert JSONAnswer(answer).body == orjson.dumps(answer)


def test_non_string_keys_and_unknown_types_fall_back_to_lenient_rendering() -> None:
    stamp = datetime(2026, 11, 21, tzinfo=UTC)
    body = orjson.loads(JSONAnswer({1: Decimal("2.5"), "at": stamp}).body)
    assert body == {"1": "2.5", "at": "2026-11-21T00:00:00+00:00"}
