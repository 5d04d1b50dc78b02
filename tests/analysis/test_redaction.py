"""Redaction: secrets and personal data never leave ailogs unmasked."""

from __future__ import annotations

import orjson
import pytest

from ailogs.analysis.redaction import ALL_CLASSES, Redactor, luhn_valid, parse_classes
from ailogs.domain import make_record

DEFAULT = Redactor()
EVERYTHING = Redactor(ALL_CLASSES)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (
            "calling openai with sk-proj-abcdefghijklmnopqrstuvwx",
            "sk-proj-abcdefghijklmnopqrstuvwx",
        ),
        ("aws key AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE"),
        (
            "token ghp_0123456789abcdefghijklmnopqrstuvwxyz",
            "ghp_0123456789abcdefghijklmnopqrstuvwxyz",
        ),
        ("Authorization: Bearer abc.def-ghi_jkl123", "abc.def-ghi_jkl123"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r", "eyJhbG"),
        ("login failed password=hunter22 user=bob", "hunter22"),
        ('{"api_key": "abcd1234efgh", "x": 1}', "abcd1234efgh"),
    ],
)
def test_default_classes_mask_keys_tokens_and_passwords(text: str, secret: str) -> None:
    masked = DEFAULT.redact(text)
    assert secret not in masked
    assert "[REDACTED:" in masked


def test_default_keeps_emails_ips_and_ordinary_text() -> None:
    text = "user bob@example.com from 10.0.0.1 asked for model gpt-4o in 1234 ms"
    assert DEFAULT.redact(text) == text


def test_optional_classes_mask_emails_cards_and_ips() -> None:
    text = "bob@example.com paid with 4111 1111 1111 1111 from 192.168.1.20"
    masked = EVERYTHING.redact(text)
    assert "bob@example.com" not in masked
    assert "4111" not in masked
    assert "192.168.1.20" not in masked


def test_card_numbers_need_a_valid_luhn_checksum() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert EVERYTHING.redact("order 4111111111111112 shipped") == "order 4111111111111112 shipped"


def test_masking_json_text_keeps_it_valid_json() -> None:
    line = orjson.dumps(
        {
            "msg": "retry with Bearer abcdefgh12345678 for caf\u00e9@x.io",
            "password": "p@ss w0rd",
            "key": "sk-ant-api03-abcdefghijklmnopqrstuv",
        }
    ).decode()
    masked = EVERYTHING.redact(line)
    body = orjson.loads(masked)
    assert "sk-ant" not in masked
    assert "abcdefgh12345678" not in body["msg"]
    assert body["password"].startswith("[REDACTED")


def test_records_are_masked_in_line_message_and_fields() -> None:
    record = make_record(
        1, '{"msg": "auth with sk-live-0123456789abcdefghij", "level": "error"}', {}
    )
    masked = DEFAULT.redact_record(record)
    assert "sk-live" not in masked.line
    assert "sk-live" not in masked.message
    assert "sk-live" not in masked.fields["msg"]
    clean = make_record(1, '{"msg": "all good"}', {})
    assert DEFAULT.redact_record(clean) is clean


def test_parse_classes() -> None:
    assert parse_classes("none") == ()
    assert parse_classes("keys, emails") == ("keys", "emails")
    assert parse_classes("all") == ALL_CLASSES
    with pytest.raises(ValueError, match="unknown"):
        parse_classes("keys,social")


def test_batches_mask_only_the_lines_that_hold_secrets() -> None:
    clean = make_record(1, '{"msg": "cache key rotated", "level": "info"}', {})
    dirty = make_record(2, "GET /v1 Authorization: Bearer abcdefghijklmnop", {})
    plain = make_record(3, "nothing to see", {})

    out = DEFAULT.redact_records([clean, dirty, plain])

    assert out[0] is clean
    assert out[2] is plain
    assert "abcdefghijklmnop" not in out[1].line
    assert DEFAULT.redact_many(["a", "sk-test-abcdefghijklmnopqrstu x"]) == [
        "a",
        "[REDACTED:keys] x",
    ]


def test_every_line_of_a_batch_with_the_same_secret_kind_is_masked() -> None:
    lines = [f"step {i} key sk-live-abcdefghijklmnopqrstu" for i in range(50)]
    assert all("sk-live" not in line for line in DEFAULT.redact_many(lines))


def test_one_record_is_masked_as_in_a_batch_with_its_metadata() -> None:
    # Cursor pages compare a boundary line redacted alone with the first page's batch.
    from ailogs.domain import make_record

    redactor = Redactor()
    records = [
        make_record(1, "clean", {"a": "b"}, {"password": "pw-12345"}),
        make_record(2, "clean", {"a": "b"}, {"trace": "Bearer abcdefghijklmnop"}),
        make_record(3, '{"msg":"x","client_secret":7}', {"a": "b"}, {"trace": "t"}),
        make_record(4, "clean", {"a": "b"}, {"trace": "t"}),
    ]
    batch = redactor.redact_records(records)
    assert [redactor.redact_record(r).to_entry() for r in records] == [r.to_entry() for r in batch]
    assert [r.fields for r in batch] == [
        {"password": "[REDACTED:passwords]"},
        {"trace": "Bearer [REDACTED:tokens]"},
        {"trace": "t", "msg": "x", "client_secret": "[REDACTED:passwords]"},
        {"trace": "t"},
    ]
    assert batch[3] is records[3]


def test_metadata_that_is_not_all_strings_is_still_probed() -> None:
    from ailogs.domain import make_record

    odd: dict[str, object] = {"pwd": 12345678, "n": None}
    record = make_record(1, "clean", {}, odd)  # type: ignore[arg-type]
    assert Redactor().redact_records([record])[0].fields == {
        "pwd": "[REDACTED:passwords]",
        "n": None,
    }
    assert Redactor().redact_metadata([odd, None]) == [  # type: ignore[list-item]
        {"pwd": "[REDACTED:passwords]", "n": None},
        None,
    ]


def test_a_secret_only_visible_once_the_json_is_decoded_is_masked() -> None:
    # In the line the space is an escape, so only the decoded message shows `Bearer <token>`.
    line = '{"msg": "auth Bearer\\u0020abcdefghijklmnopqrstuvwxyz", "level": "info"}'
    record = make_record(1, line, {})
    assert record.message == "auth Bearer abcdefghijklmnopqrstuvwxyz"
    clean = make_record(2, '{"msg": "nothing here"}', {})

    masked, untouched = DEFAULT.redact_records([record, clean])

    assert masked.message == "auth Bearer [REDACTED:tokens]"
    assert "abcdefghijklmnopqrstuvwxyz" not in str(masked.fields)
    assert untouched is clean


def _batch(odd_metadata: bool) -> list[list[object]]:
    """Loki values with secrets in every place a record keeps text, among clean lines."""
    values: list[list[object]] = [
        [str(10 + i), "caf\u00e9 \u2603 " * 40 + f"clean {i}"] for i in range(3000)
    ]  # multi-byte text ahead of the secrets moves every byte offset
    values += [
        ["1", "GET /v1 Authorization: Bearer abcdefghijklmnop"],
        ["2", '{"msg": "auth Bearer\\u0020abcdefghijklmnopqrstuvwxyz"}'],
        ["3", "clean", {"structuredMetadata": {"a": "x", "b": "y", "c": "z"}}],
        ["4", "clean", {"structuredMetadata": {"trace": "t", "auth": "Bearer abcdefghijklmnop"}}],
        ["5", "clean", {"structuredMetadata": {"password": "pw-12345"}}],
        ["6", '{"msg": "m", "api_key": "abcd1234efgh"}', {"structuredMetadata": {"k": "v"}}],
        ["7", "\u00e9 sk-test-abcdefghijklmnopqrstu"],
    ]
    if odd_metadata:  # a value that is not a string: every map is probed as text
        values.append(["8", "clean", {"structuredMetadata": {"n": 5}}])
    return values


@pytest.mark.parametrize("odd_metadata", [False, True])
def test_rows_are_masked_as_their_records(odd_metadata: bool) -> None:
    from ailogs.answer_rows import entry_of_row, stream_rows
    from ailogs.domain import TimestampFormatter, stream_records

    labels = {"service_name": "api"}
    values = _batch(odd_metadata)
    records = DEFAULT.redact_records(stream_records(labels, values))

    rows = DEFAULT.redact_rows(stream_rows(labels, values, TimestampFormatter()))

    assert list(map(entry_of_row, rows)) == [record.to_entry() for record in records]
    assert [row[:3] for row in rows] == [(r.timestamp_ns, r.line, r.metadata) for r in records]
    masked = [row for row in rows if "[REDACTED:" in orjson.dumps(row[3]).decode()]
    assert [row[0] for row in masked] == [1, 2, 4, 5, 6, 7]
    assert all("abcdefghijklmnop" not in orjson.dumps(row[3]).decode() for row in rows)


@pytest.mark.parametrize("odd_metadata", [False, True])
def test_batches_find_secrets_behind_multi_byte_text_in_every_place(odd_metadata: bool) -> None:
    from ailogs.domain import stream_records

    records = stream_records({}, _batch(odd_metadata))

    out = DEFAULT.redact_records(records)

    changed = [r.timestamp_ns for r, before in zip(out, records, strict=True) if r is not before]
    assert changed == [1, 2, 4, 5, 6, 7]
    assert out[3004].fields == {"password": "[REDACTED:passwords]"}
    assert out[3005].fields["api_key"] == "[REDACTED:passwords]"
    assert out[3006].line == "\u00e9 [REDACTED:keys]"


@pytest.mark.parametrize(
    ("metadata", "masked"),
    [
        ({"note": "Bearer\tabcdefghijklmnop"}, {"note": "Bearer\t[REDACTED:tokens]"}),
        ({"note": 'say "Bearer abcdefghijklmnop"'}, {"note": 'say "Bearer [REDACTED:tokens]"'}),
        ({"note": "\ud800 Bearer abcdefghijklmnop"}, {"note": "\ud800 Bearer [REDACTED:tokens]"}),
        ({"api_key": "abcd1234"}, {"api_key": "[REDACTED:passwords]"}),
        ({"nested": {"secret": "abcd1234"}}, {"nested": {"secret": "[REDACTED:passwords]"}}),
    ],
)
def test_metadata_secrets_are_found_however_their_json_would_read(
    metadata: dict[str, object], masked: dict[str, object]
) -> None:
    # Clean metadata is probed as one JSON text; a secret behind an escape must not hide.
    records = [make_record(i, "clean", {}, {"trace": f"t{i}"}) for i in range(100)]
    records.append(make_record(100, "clean", {}, metadata))  # type: ignore[arg-type]

    out = DEFAULT.redact_records(records)

    assert out[:100] == records[:100]
    assert out[100].metadata == masked
    assert DEFAULT.redact_metadata([None, metadata]) == [None, masked]  # type: ignore[list-item]


def _loki_body(values: list[list[object]], encode: str) -> bytes:
    payload = {"status": "success", "data": {"resultType": "streams", "result": [
        {"stream": {"service_name": "api"}, "values": values}]}}  # fmt: skip
    if encode == "orjson":
        return orjson.dumps(payload)
    import json

    text = json.dumps(payload, ensure_ascii=encode == "ascii")
    if encode == "html":  # as Go's encoder writes <, > and &
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text.encode()


def _texts(rng: object) -> list[str]:
    import random

    assert isinstance(rng, random.Random)
    pieces = ["clean", "caf\u00e9", "\u2603", '"', "\\", "\t", "\n", " ", "&", "<", "x"]
    pieces += ["Bearer abcdefghijklmnop", "Bearer\tabcdefghijklmnop", "sk-abcdefghijklmnopqrstu"]
    pieces += ["api_key", "\\u0020", "\\t", "Bearer\\u0020abcdefghijklmnop", "s\\u006b-"]
    pieces += ["\x08", "password=hunter22", "\\bpassword=x", "\xa0"]
    return ["".join(rng.choice(pieces) for _ in range(rng.randrange(4))) for _ in range(3)]


@pytest.mark.parametrize("encode", ["orjson", "ascii", "unicode", "html"])
def test_a_body_said_clean_holds_nothing_the_rows_would_mask(encode: str) -> None:
    # The one-probe shortcut must never call clean an answer whose rows hold a trigger.
    import random

    from ailogs.loki.parse import parse_log_rows

    rng = random.Random(encode)
    clean_seen = 0
    for round_ in range(1500):
        values: list[list[object]] = []
        for i in range(rng.randrange(1, 4)):
            msg, other, note = _texts(rng)
            line = rng.choice(
                [msg, orjson.dumps({"msg": msg, "k": other}).decode(),
                 '{"msg": "' + msg + '", "k": 1}']  # raw: its escapes are the line's own
            )  # fmt: skip
            value: list[object] = [str(10**18 + round_ * 10 + i), line]
            if rng.random() < 0.5:
                value.append({"structuredMetadata": {rng.choice(["note", "api_key"]): note}})
            values.append(value)
        body = _loki_body(values, encode)
        rows, _ = parse_log_rows(body)
        if not DEFAULT.body_is_clean(body):
            continue
        clean_seen += 1
        assert DEFAULT.redact_rows(rows) == rows, body
    assert clean_seen > 50  # the shortcut is reached, not only its refusals


def test_a_body_with_a_secret_or_an_escape_is_probed_row_by_row() -> None:
    clean = _loki_body([["1", '{"msg": "all fine"}'], ["2", 'say "hi"']], "orjson")
    assert DEFAULT.body_is_clean(clean)
    assert not DEFAULT.body_is_clean(_loki_body([["1", "Bearer abcdefghijklmnop"]], "orjson"))
    assert not DEFAULT.body_is_clean(_loki_body([["1", "tab\there"]], "orjson"))
    # A backspace is written `\b`: its letter would end the word boundary before a name.
    assert not DEFAULT.body_is_clean(_loki_body([["1", "\x08password=hunter22"]], "orjson"))
    assert not DEFAULT.body_is_clean(_loki_body([["1", "back\\slash"]], "orjson"))
    assert not DEFAULT.body_is_clean(_loki_body([["1", "caf\u00e9"]], "ascii"))
    assert Redactor(()).body_is_clean(_loki_body([["1", "Bearer abcdefghijklmnop"]], "orjson"))


_PIECES = [
    "password", "PassWord", "pa\u017fsword", "passwd", "pwd", "secret", "client_secret",
    "api_key", "API-KEY", "apikey", "access_token", "refresh-token", "auth_token",
    "\u212aey", "input_tokens", "cache_key", "Bearer", "basic", "sk-", "AKIA", "eyJ",
    "abcdefghijklmnopqrstuvwxyz0123456789", "=", ": ", '"', " ", "\t", "\xa0", "\u2003",
    "\x1c", "\x85", "\u00e9", "_", "-", "x", "1234", ".", "@", "ex.com", "4111 1111 1111 1111",
    "10.1.2.3",
]  # fmt: skip


@pytest.mark.parametrize("redactor", [DEFAULT, EVERYTHING], ids=["default", "all"])
def test_the_prefilter_never_hides_a_text_a_regex_would_mask(redactor: Redactor) -> None:
    # Hyperscan reads bytes and ASCII; the regexes read Unicode. Whatever a regex
    # masks, its text must be a suspect.
    import random

    rng = random.Random(len(redactor.classes))
    texts = ["".join(rng.choices(_PIECES, k=rng.randrange(1, 7))) for _ in range(20_000)]

    assert redactor.redact_many(texts) == [redactor.redact(text) for text in texts]


def test_ai_operation_lines_are_not_suspects() -> None:
    # Token counts and cache keys are not secrets: such lines skip the regexes.
    line = orjson.dumps(
        {"event": "ai.operation", "input_tokens": 1200, "output_tokens": 80,
         "cache_read_tokens": 0, "reasoning_tokens": 12, "cache_key": "k-1", "msg": "done"}
    ).decode()  # fmt: skip
    assert DEFAULT.suspects([line], [line], [None]) == set()
    assert DEFAULT.suspects(['{"api_key": "abc"}'], [""], [None]) == {0}
