"""Validation, pricing and idempotency rules of the ingest path (in-memory sink)."""

from __future__ import annotations

from decimal import Decimal

import pytest

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
    ],
)
def test_well_formed_and_unusual_records_are_normalised_alike(fields: dict[str, object]) -> None:
    """The lean path for well-formed records stores what pydantic's path would."""
    raw = record(**fields)
    strict = operation_records.OperationRecord.model_validate(raw)
    expected = {
        name: getattr(strict, name) for name in operation_records.OperationRecord.model_fields
    }
    fields_and_extras = operation_records._validated_fields(raw)
    assert fields_and_extras == (expected, dict(strict.model_extra or {}))
