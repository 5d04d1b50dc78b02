"""How a Loki line becomes a record and an entry: the rules every answer relies on."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ailogs.domain import (
    TimestampFormatter,
    entries_of,
    format_timestamp,
    make_record,
    records_of,
    stream_records,
)

TS = 1795252947057639339


def test_labels_win_over_the_body_and_the_message_comes_from_msg() -> None:
    line = '{"service": "body-svc", "level": "INFO", "msg": "hello", "message": "other"}'
    record = make_record(TS, line, {"service_name": "label-svc", "level": "ERROR"})
    assert (record.service, record.level, record.message) == ("label-svc", "error", "hello")


@pytest.mark.parametrize(
    ("line", "service", "level", "message"),
    [
        ('{"service": "api", "level": "WARN", "message": "m"}', "api", "warn", "m"),
        ('   {"msg": "", "message": "fallback"}', "unknown", "info", "fallback"),
        ('{"msg": 42, "level": 7}', "unknown", "7", "42"),
        ('{"msg": null}', "unknown", "info", '{"msg": null}'),
        ('{"msg": "unterminated', "unknown", "info", '{"msg": "unterminated'),
        ("[1, 2, 3]", "unknown", "info", "[1, 2, 3]"),
        (
            '2026-11-21 ERROR disk full \\ "quoted"',
            "unknown",
            "error",
            '2026-11-21 ERROR disk full \\ "quoted"',
        ),
        ("", "unknown", "info", ""),
    ],
)
def test_lines_of_every_shape(line: str, service: str, level: str, message: str) -> None:
    record = make_record(TS, line, {})
    assert (record.service, record.level, record.message) == (service, level, message)


def test_body_fields_win_over_structured_metadata() -> None:
    record = make_record(TS, '{"trace_id": "body", "n": 1}', {}, {"trace_id": "meta", "x": "y"})
    assert record.fields == {"trace_id": "body", "n": 1, "x": "y"}


def test_a_stream_parses_like_its_lines_one_by_one() -> None:
    labels = {"service_name": "api", "level": "Info"}
    values = [
        [str(TS), '{"msg": "a", "level": "error"}'],
        [str(TS + 1), "plain ERROR text", {"structuredMetadata": {"k": "v"}, "parsed": {"p": "q"}}],
        [str(TS + 2), ' {"msg": "indented"}', {}],
        [str(TS + 3), '{"broken": ', {"structuredMetadata": {}}],
    ]
    expected = [
        make_record(int(v[0]), v[1], labels, v[2].get("structuredMetadata") if len(v) > 2 else None)
        for v in values
    ]
    assert stream_records(labels, values) == expected
    assert [r.level for r in expected] == ["info"] * 4  # the stream label wins


@example([0, 999_999_999, 10**9, 10**9 + 1, 1795252947000000000, 1795252947999999999])
@given(st.lists(st.integers(min_value=-(10**10), max_value=4_102_444_800 * 10**9), max_size=50))
def test_the_bulk_formatter_matches_format_timestamp(stamps: list[int]) -> None:
    formatter = TimestampFormatter()
    assert [formatter(ts) for ts in sorted(stamps)] == [
        format_timestamp(ts) for ts in sorted(stamps)
    ]
    assert [formatter(ts) for ts in stamps] == [format_timestamp(ts) for ts in stamps]
    assert TimestampFormatter().many(stamps) == [format_timestamp(ts) for ts in stamps]
    assert formatter.many(sorted(stamps)) == [format_timestamp(ts) for ts in sorted(stamps)]


def test_entries_are_the_public_shape() -> None:
    records = [
        make_record(TS + i * 10**9, f'{{"msg": "m{i}"}}', {"service_name": "a"}) for i in range(3)
    ]
    entries = entries_of(records)
    assert entries == [r.to_entry() for r in records]
    assert entries[0] == {
        "timestamp": "2026-11-21T09:22:27.057639339Z",
        "service": "a",
        "level": "info",
        "message": "m0",
        "labels": {"service_name": "a"},
        "fields": {"msg": "m0"},
    }


def test_merged_entries_parse_like_their_lines_one_by_one() -> None:
    api = {"service_name": "api", "level": "WARN"}
    bare: dict[str, str] = {}
    entries = [
        (TS, api, '{"msg": "a"}', None),
        (TS, bare, '{"service": "worker", "level": "ERROR", "msg": "b"}', {"k": "v"}),
        (TS + 1, api, "  plain text", None),
        (TS + 2, bare, "not json at all: FATAL", None),
    ]
    expected = [make_record(ts, line, labels, meta) for ts, labels, line, meta in entries]
    assert records_of(entries) == expected
    assert [(r.service, r.level) for r in expected] == [
        ("api", "warn"),
        ("worker", "error"),
        ("api", "warn"),
        ("unknown", "fatal"),
    ]
