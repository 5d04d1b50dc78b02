"""The native answer rows (`_answer_rows.c`) say what the Python reference says.

The native path shapes a common JSON line without decoding it, writing the line
itself as the entry's `fields`: its check must take only lines orjson decodes to
the same object, and must never let a line that is not one whole JSON object
into an answer (it is written verbatim).
"""

from __future__ import annotations

import json
import random
from typing import Any

import orjson
import pytest

from ailogs import answer_rows
from ailogs.answer_rows import (
    entry_of_row,
    python_stream_rows,
    record_of_row,
    stream_rows,
)
from ailogs.domain import TimestampFormatter, format_timestamp

pytest.importorskip("ailogs._answer_rows", reason="built where a C compiler exists")
from ailogs._answer_rows import json_object, json_rows

TS = 1795252947057639339


@pytest.mark.parametrize(
    "line",
    [
        "{}",
        '{"a":1}',
        ' {"a":1}'[1:] + "  \n\t\r",
        '{ "a" : [ 1 , -0.5e+10 , true , false , null , { } , [ ] ] , "b" : "x" }',
        '{"q":"\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\u20ac"}',
        '{"latin":"caf\xe9 \x7f \x85"}',
        '{"n":-123456789012345678,"f":0.12345678901234567,"e":1E-99}',
        '{"deep":' + "[" * 62 + "]" * 62 + "}",
        "{" + ",".join(f'"k{i}":{i}' for i in range(128)) + "}",  # names that share bits
    ],
)
def test_taken_lines_are_json_objects_every_parser_reads_alike(line: str) -> None:
    assert json_object(line)
    assert orjson.loads(line) == json.loads(line)
    written = orjson.dumps({"fields": orjson.Fragment(line)})
    assert orjson.loads(written) == {"fields": orjson.loads(line)}


@pytest.mark.parametrize(
    "line",
    [
        "",
        " {}",  # the reference wants `{` first
        "[]",
        '{"a":1}x',
        '{"a":1}],"entries":[{"b":2}',  # an answer must never be broken out of
        '{"a":1},{"b":2}',
        '{"a":1,}',
        '{"a":1 "b":2}',
        '{"a"}',
        "{'a':1}",
        '{"a":01}',
        '{"a":1.}',
        '{"a":.5}',
        '{"a":+1}',
        '{"a":-}',
        '{"a":NaN}',
        '{"a":Infinity}',
        '{"a":tru}',
        '{"a":nul}',
        '{"a":1e400}',  # orjson refuses an infinity
        '{"a":1.5e-400}',  # orjson flushes it to 0.0
        '{"a":1234567890123456789012}',  # orjson rounds it to a float
        '{"a":1e100}',
        '{"a":"\\ud800"}',  # an escaped surrogate
        '{"a":"\\ud83d\\ude00"}',
        '{"a":"\\x41"}',
        '{"a":"\\u00g1"}',
        '{"a":"tab\there"}',  # a raw control character
        '{"a":"nul\x00"}',
        '{"a":"open}',
        '{"a":1,"a":2}',  # a name given twice
        "{" + ",".join(f'"k{i}":{i}' for i in range(100)) + ',"k7":0}',
        "{" + ",".join(f'"k{i}":{i}' for i in range(129)) + "}",  # more names than kept
        '{"m\\u0073g":"hidden"}',  # a name written with an escape
        '{"a":' + "[" * 64 + "]" * 64 + "}",
        "\ufeff{}",
        '{"wide":"\u20ac"}',  # wider than Latin-1: left to Python
        '{"a":1}\x0b',
    ],
)
def test_declined_lines_are_left_to_python(line: str) -> None:
    assert not json_object(line)
    assert json_rows([[str(TS), line]], {}, None, "api", "info", orjson.Fragment) == ([None], [0])


def _fuzzed_line(rng: random.Random) -> str:
    body: dict[str, Any] = {}
    for _ in range(rng.randrange(6)):
        key = rng.choice(["msg", "message", "level", "service", "k", "trace_id", "é", "a b"])
        body[key] = rng.choice(
            [
                None, True, 0, -7, 2**62, 2**70, 1.5, -0.0, 1e-300, "", "x", "ERROR", "Warn",
                'q"u\\o', "caf\xe9", "\u20ac", "tab\t", [1, {"z": None}], {"n": [None]},
            ]
        )  # fmt: skip
    line = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    if rng.random() < 0.3:
        line = line.replace(",", rng.choice([", ", " ,", ",\n"])).replace(":", " : ")
    for _ in range(rng.choice([0, 0, 1, 2])):
        at = rng.randrange(len(line) + 1)
        junk = rng.choice('{}[]":,\\ u0123456789eE.-+tfnlaxé\x00\x1f\x7f\u20ac')
        if rng.random() < 0.5:
            line = line[:at] + junk + line[at:]
        else:
            line = line[:at] + junk + line[at + 1 :]
    return line


def test_the_check_takes_only_what_orjson_and_json_read_as_one_object() -> None:
    rng = random.Random(20261121)
    taken = 0
    for _ in range(40_000):
        line = _fuzzed_line(rng)
        if not json_object(line):
            continue
        taken += 1
        decoded = orjson.loads(line)
        assert isinstance(decoded, dict)
        assert decoded == json.loads(line)
        written = orjson.dumps([orjson.Fragment(line), 1])
        assert orjson.loads(written) == [decoded, 1]
    assert taken > 5_000  # the fuzz reaches the accepting side too


def _values(rng: random.Random, count: int) -> list[list[Any]]:
    values: list[list[Any]] = []
    for _ in range(count):
        ts = rng.choice(
            [
                TS + rng.randrange(-(10**12), 10**12),
                rng.randrange(10**9, 2**63),
                rng.randrange(0, 10**9),
                2**63 - 1,
                10**9,
            ]
        )
        stamp: Any = rng.choice([str(ts)] * 8 + [f"0{ts}", f" {ts}", ts])
        line = _fuzzed_line(rng) if rng.random() < 0.9 else rng.choice(["plain text", "a=1 b=2"])
        extra = rng.choice(
            [
                None,
                {},
                {"structuredMetadata": {"trace_id": "t"}},
                {"structuredMetadata": {"k": "v", "msg": "m"}},
                {"structuredMetadata": {}, "parsed": {"p": "q"}},
                {"parsed": {"p": "q"}},
            ]
        )
        values.append([stamp, line] if extra is None else [stamp, line, extra])
    return values


def _readable(row: answer_rows.Row) -> dict[str, Any]:
    decoded: dict[str, Any] = orjson.loads(orjson.dumps(row[3]))
    return decoded


@pytest.mark.parametrize(
    "labels",
    [
        {"service_name": "api", "level": "Info"},
        {"service_name": "", "level": ""},
        {},
        {"job": "app", "level": "WARN"},
    ],
)
def test_native_rows_match_the_python_rows(labels: dict[str, str]) -> None:
    rng = random.Random(7)
    native = 0
    for _ in range(300):
        values = _values(rng, rng.randrange(1, 30))
        expected = python_stream_rows(labels, values, TimestampFormatter())
        rows = stream_rows(labels, values, TimestampFormatter())
        native += sum(isinstance(row[3]["fields"], orjson.Fragment) for row in rows)
        assert len(rows) == len(expected)
        for row, reference in zip(rows, expected, strict=True):
            assert row[:3] == reference[:3]
            assert row[4] is labels
            assert _readable(row) == _readable(reference)
            assert entry_of_row(row) == entry_of_row(reference)
            assert record_of_row(row) == record_of_row(reference)
    assert native  # the native path was taken, not only the fallback


def test_native_timestamps_are_rfc3339_with_nanoseconds() -> None:
    rng = random.Random(3)
    stamps = [10**9, 2**63 - 1, 951782400 * 10**9, 4107542399 * 10**9 + 999_999_999]
    stamps += [rng.randrange(10**9, 2**63) for _ in range(3000)]
    stamps.sort()
    rows, left = json_rows([[str(ts), "{}"] for ts in stamps], {}, None, "a", "b", orjson.Fragment)
    assert not left
    assert [row[3]["timestamp"] for row in rows] == [format_timestamp(ts) for ts in stamps]
    assert [row[0] for row in rows] == stamps
