"""Validation, pricing and idempotency rules of the ingest path (in-memory sink)."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from decimal import Decimal
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from ailogs.errors import PayloadTooLarge
from ailogs.services import operation_records
from ailogs.services.ingest import ingest_operations, prepare_operations
from ailogs.services.operation_records import ATTRIBUTES_MAX_BYTES, parse_timestamp_ns
from ailogs.store.enums import CostSource, OperationSource, OperationStatus
from ailogs.store.operation_store import InMemoryOperationStore
from ailogs.store.records import NewOperation
from tests.store.factories import NOW, PRICES, record


def prepare(*records: object) -> tuple[list[NewOperation], list[tuple[int, str]]]:
    batch = prepare_operations(records, prices=PRICES, source=OperationSource.API, now_ns=NOW)
    return list(batch.operations), [(r.index, r.reason) for r in batch.rejected]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"input_tokens": -1}, "input_tokens:"),
        ({"output_tokens": 10**12}, "output_tokens:"),
        ({"duration_ms": 4_000_000}, "duration_ms:"),
        ({"duration_ms": "nan"}, "duration_ms:"),
        ({"ts": "yesterday"}, "ts:"),
        ({"ts": 10}, "ts:"),
        ({"workspace_id": "w" * 65}, "workspace_id:"),
        ({"status": "maybe"}, "status:"),
        ({"http_status": 700}, "http_status:"),
        ({"cost_usd": -0.5}, "cost_usd:"),
    ],
)
def test_bad_records_are_rejected_with_the_field(fields: dict[str, object], reason: str) -> None:
    ops, rejected = prepare(record(), record(**fields))

    assert len(ops) == 1
    assert rejected[0][0] == 1
    assert rejected[0][1].startswith(reason)


def test_unknown_fields_are_kept_and_huge_attributes_are_trimmed() -> None:
    (kept, trimmed), _ = prepare(
        record(region="eu", msg="hello"),
        record(seq=2, attributes={"blob": "x" * (ATTRIBUTES_MAX_BYTES + 1)}),
    )

    assert kept.attributes == {"region": "eu", "msg": "hello"}
    assert set(trimmed.attributes) == {"_dropped_bytes"}


def test_cost_comes_from_the_record_the_price_table_or_nowhere() -> None:
    (own, priced, dated, unknown), _ = prepare(
        record(cost_usd=0.5),
        record(seq=1, input_tokens=2_000_000, output_tokens=0),
        record(seq=2, model="gpt-4o", response_model="gpt-4o-2024-08-06", input_tokens=0),
        record(seq=3, model="in-house-llm"),
    )

    assert (own.cost_source, own.cost_usd) == (CostSource.RECORD, Decimal("0.5"))
    assert (priced.cost_source, priced.cost_usd) == (CostSource.COMPUTED, Decimal("5"))
    assert dated.cost_usd == Decimal("0.005")  # 500 output tokens at $10 per 1M
    assert (unknown.cost_source, unknown.cost_usd) == (CostSource.UNPRICED, None)


def test_status_is_inferred_from_the_error_fields() -> None:
    (failed, ok), _ = prepare(record(status=None, http_status=503), record(status=None, seq=1))

    assert failed.status is OperationStatus.ERROR
    assert ok.status is OperationStatus.OK


def test_ids_follow_content_or_the_operation_id() -> None:
    (a, b, c, d), _ = prepare(
        record(),
        {**record(), "ts": record()["ts"]},  # same content, another dict
        record(operation_id="op-1"),
        record(operation_id="op-1", model="changed"),
    )

    assert a.id == b.id
    assert c.id == d.id != a.id


def test_ids_stay_what_earlier_versions_stored() -> None:
    """Re-reading old lines must find their rows: the id of a record never changes."""
    (plain, nested), _ = prepare(
        record(), record(region="eu", attributes={"k": [1, {"b": 2, "a": None}]})
    )

    assert plain.id == "b38aec936fcfe0bac2190c519de969e6"
    assert nested.id == "2d2015b4fc7ce6abe42b8358d1309991"
    assert operation_records.operation_id({1: "x", "a": {2: 3}}, None) == (
        "b709afdf360c3c04ffa632ca0f688cfa"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-11-21T10:00:00.123456789Z", 1_763_719_200_123_456_789),
        ("2025-11-21T11:00:00+01:00", 1_763_719_200_000_000_000),
        (1_763_719_200, 1_763_719_200_000_000_000),
        (1_763_719_200_123, 1_763_719_200_123_000_000),
        ("1763719200", 1_763_719_200_000_000_000),
    ],
)
def test_timestamps_in_every_documented_form(text: object, expected: int) -> None:
    assert parse_timestamp_ns(text) == expected


async def test_batches_over_1000_records_are_refused() -> None:
    with pytest.raises(PayloadTooLarge):
        await ingest_operations(
            [record()] * 1001, sink=InMemoryOperationStore(), prices=PRICES, now_ns=NOW
        )


async def test_keys_may_only_write_their_workspaces() -> None:
    report = await ingest_operations(
        [record(workspace_id="ws-1"), record(workspace_id="ws-2")],
        sink=InMemoryOperationStore(),
        prices=PRICES,
        now_ns=NOW,
        may_write=lambda workspace: workspace == "ws-1",
    )

    assert report.inserted == 1
    assert report.as_dict()["rejected"] == [
        {"index": 1, "reason": "workspace_id: not allowed for this key"}
    ]


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"service": " api ", "trace_id": " t-1 "},
        {"service": "api\x1f", "model": "gpt-4o\u00a0"},
        {"duration_ms": 5, "ttft_ms": 2, "status": "Success", "http_status": 200},
        {"status": "", "error_type": "rate_limit"},
        {"input_tokens": 7.0, "output_tokens": "12"},
        {"attributes": {" k ": 1, "k": " v "}, "region": "eu", "event": "ai.operation"},
        {"operation_id": "op-1", "workspace_id": ""},
        {"ts": "2025-11-20T10:00:00.5Z"},
        {"duration_ms": 3_600_000, "ttft_ms": 0, "http_status": None, "cost_usd": None},
        {"service": "ünïcødé-✓", "model": "模型", "trace_id": "t" * 64, "error_type": "e" * 128},
        {"response_model": None, "error_type": None, "conversation_id": None},
        {"attributes": {}, "": "empty key", "big": 10**30, "nan": float("nan")},
    ],
)
def test_well_formed_and_unusual_records_are_normalised_alike(fields: dict[Any, object]) -> None:
    """The lean path for well-formed records stores what pydantic's path would."""
    raw = {**record(), **fields}
    strict = operation_records.OperationRecord.model_validate(raw)
    expected = {
        name: getattr(strict, name) for name in operation_records.OperationRecord.model_fields
    }
    fields_and_extras = operation_records._validated_fields(raw)
    assert fields_and_extras == (expected, dict(strict.model_extra or {}))


@pytest.mark.parametrize(
    "fields",
    [
        {"service": ""},
        {"trace_id": ""},
        {"workspace_id": " "},
        {"service": "\u2003api"},
        {"model": "m" * 129},
        {"trace_id": "t" * 65},
        {"input_tokens": True},
        {"output_tokens": 10**30},
        {"input_tokens": -0.0},
        {"duration_ms": float("nan")},
        {"duration_ms": float("inf")},
        {"duration_ms": -float("inf")},
        {"duration_ms": 10**400},
        {"duration_ms": -(10**400)},
        {"ttft_ms": False},
        {"http_status": 200.0},
        {"http_status": True},
        {"status": 1},
        {"status": " ok "},
        {"attributes": {1: "x"}},
        {"attributes": {" k": 1}},
        {"attributes": []},
        {"ts": True},
        {"ts": 10**400},
        {"ts": float("nan")},
        {"cost_usd": float("inf")},
        {"cost_usd": "0.1234567890123"},
        {"service": None},
        {"workspace_id": None},
    ],
)
def test_ugly_records_get_the_answer_of_the_strict_model(fields: dict[str, object]) -> None:
    """Whatever the lean path declines, pydantic decides: same values or same rejection."""
    assert_strict_answer(record(**fields))


@pytest.mark.parametrize("missing", ["ts", "service", "model", "input_tokens", "status"])
def test_a_record_missing_a_field_gets_the_answer_of_the_strict_model(missing: str) -> None:
    assert_strict_answer({name: value for name, value in record().items() if name != missing})


def assert_strict_answer(raw: dict[str, Any]) -> None:
    """The lean validation gives the strict model's values, or its rejection word for word."""
    try:
        strict = operation_records.OperationRecord.model_validate(raw)
    except ValidationError as exc:
        reason = operation_records.describe_error(exc)
        with pytest.raises(ValueError, match=f"^{re.escape(reason)}$"):
            operation_records._validated_fields(raw)
        return
    expected = {
        name: getattr(strict, name) for name in operation_records.OperationRecord.model_fields
    }
    assert operation_records._validated_fields(raw) == (expected, dict(strict.model_extra or {}))


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"": "", " k ": " v ", "\u00e9t\u00e9": "\u6a21\u578b", "\U0001f600": [1, -2, 2**63 - 1]},
        {"b": {"z": None, "a": [True, False, 1.5, -0.0, 1e308]}, "a": '\\\t\n"', "A": -(2**63)},
        {"ts": 1, "nested": {"deeper": {"x": {}, "y": []}}, "\x7f": "\x00"},
    ],
)
def test_content_ids_are_the_digest_of_the_canonical_json_as_before(raw: dict[str, Any]) -> None:
    """The id reads the record as sorted JSON, the same bytes whichever orjson path writes it."""
    canonical = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    expected = hashlib.blake2b(canonical, digest_size=16).hexdigest()

    assert operation_records.operation_id(raw, None) == expected


def test_a_huge_integer_duration_is_rejected_not_raised() -> None:
    ops, rejected = prepare(record(duration_ms=10**400), record(ttft_ms=2**1100))

    assert ops == []
    assert [index for index, _ in rejected] == [0, 1]
    assert rejected[0][1].startswith("duration_ms:")
    assert rejected[1][1].startswith("ttft_ms:")


def _by_keywords(raw: dict[str, Any]) -> NewOperation:
    """build_operation's result written out field by field, from pydantic's reading."""
    strict = operation_records.OperationRecord.model_validate(raw)
    status = strict.status
    if status is None:
        failed = strict.error_type is not None or (strict.http_status or 0) >= 400
        status = OperationStatus.ERROR if failed else OperationStatus.OK
    cost, source, version = strict.cost_usd, CostSource.RECORD, None
    if cost is None:
        priced = PRICES.cost(
            [strict.response_model, strict.model],
            input_tokens=strict.input_tokens,
            output_tokens=strict.output_tokens,
            cache_read_tokens=strict.cache_read_tokens,
        )
        source = CostSource.UNPRICED if priced is None else CostSource.COMPUTED
        if priced is not None:
            cost, version = priced.cost_usd, priced.version
    attributes = dict(strict.attributes)
    for name, value in (strict.model_extra or {}).items():
        if name not in ("ts", "event"):
            attributes.setdefault(name, value)
    return NewOperation(
        id=operation_records.operation_id(raw, strict.operation_id),
        start_time_ns=strict.ts,
        service=strict.service,
        operation=strict.operation,
        provider=strict.provider,
        request_model=strict.model,
        workspace_id=strict.workspace_id,
        trace_id=strict.trace_id,
        span_id=strict.span_id,
        parent_span_id=strict.parent_span_id,
        correlation_id=strict.correlation_id,
        conversation_id=strict.conversation_id,
        response_model=strict.response_model,
        input_tokens=strict.input_tokens,
        output_tokens=strict.output_tokens,
        cache_read_tokens=strict.cache_read_tokens,
        reasoning_tokens=strict.reasoning_tokens,
        duration_ms=strict.duration_ms,
        ttft_ms=strict.ttft_ms,
        status=status,
        error_type=strict.error_type,
        http_status=strict.http_status,
        cost_usd=cost,
        cost_source=source,
        price_version=version,
        source=OperationSource.API,
        ingested_at_ns=NOW,
        attributes=attributes,
    )


def test_every_field_of_an_operation_comes_from_its_own_source() -> None:
    """build_operation passes NewOperation's fields by position: each must land in its place."""
    raw = record(
        operation_id="op-9",
        service="svc",
        operation="embed",
        provider="openai",
        model="gpt-4o",
        response_model="gpt-4o-2024-08-06",
        workspace_id="ws-9",
        trace_id="tr-9",
        span_id="sp-9",
        parent_span_id="pa-9",
        correlation_id="co-9",
        conversation_id="cv-9",
        input_tokens=11,
        output_tokens=12,
        cache_read_tokens=3,
        reasoning_tokens=14,
        duration_ms=15.5,
        ttft_ms=1.5,
        error_type="timeout",
        http_status=504,
        status=None,
        region="eu",
    )
    (op,), _ = prepare(raw)
    values = [getattr(op, field.name) for field in dataclasses.fields(op)]

    assert op == _by_keywords(raw)
    assert op.attributes_json == '{"region":"eu"}'
    # No two text fields hold the same value, so a swap cannot go unnoticed.
    texts = [value for value in values if isinstance(value, str) and value not in ("", "api")]
    assert len(texts) == len(set(texts))


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"status": "failed", "cost_usd": "0.25", "attributes": {"k": 1}, "x": [1, {"b": 2}]},
        {"model": "in-house-llm", "ttft_ms": None, "msg": "hello", "event": "ai.operation"},
        {"ts": "2025-11-20T10:00:00Z", "service": " padded ", "input_tokens": "5"},
    ],
)
def test_built_operations_equal_their_field_by_field_reading(fields: dict[Any, object]) -> None:
    raw = {**record(), **fields}
    (op,), rejected = prepare(raw)

    assert rejected == []
    assert op == _by_keywords(raw)
    assert op.attributes_json == orjson.dumps(op.attributes).decode()


def test_a_key_that_is_not_text_keeps_its_id_and_attributes() -> None:
    """Only a caller in Python can send one (JSON keys are text); the result is as before."""
    (op,), _ = prepare({**record(), 5: "five", "region": "eu"})

    assert op.id == "4f6ead4348a9c3a366029de455aeb7d5"
    assert op.attributes == {5: "five", "region": "eu"}
    assert op.attributes_json == '{"5":"five","region":"eu"}'
