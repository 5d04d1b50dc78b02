"""`ailogs analyze FILE`: JSON lines or text in, a report or the JSON shape out, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ailogs.cli import app
from ailogs.services.log_files import parse_timestamp, read_log_lines

runner = CliRunner()


def line(ts: str, service: str, level: str, msg: str, **fields: object) -> str:
    return json.dumps({"ts": ts, "service": service, "level": level, "msg": msg, **fields})


def incident_file(tmp_path: Path) -> Path:
    rows = []
    for i in range(40):
        second = f"{i:02d}"
        rows.append(
            line(f"2026-11-20T10:00:{second}Z", "web", "info", "GET /cart", trace_id=f"b{i}")
        )
        rows.append(
            line(f"2026-11-20T10:00:{second}.1Z", "cart", "info", "cart loaded", trace_id=f"b{i}")
        )
    for i in range(40):
        second = f"{i:02d}"
        ids = {"trace_id": f"c{i}"}
        rows.append(line(f"2026-11-20T10:05:{second}Z", "web", "info", "GET /cart", **ids))
        rows.append(
            line(
                f"2026-11-20T10:05:{second}.1Z",
                "cart",
                "error",
                "redis timed out after 2000 ms",
                **ids,
            )
        )
        rows.append(
            line(f"2026-11-20T10:05:{second}.2Z", "web", "error", "cart returned 504", **ids)
        )
    path = tmp_path / "incident.jsonl"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_json_output_has_exactly_the_documented_shape(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "analyze",
            str(incident_file(tmp_path)),
            "--json",
            "--incident-start",
            "2026-11-20T10:05:00Z",
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert list(body) == ["patterns", "templates", "anomalies", "correlation"]
    correlation = body["correlation"]
    assert correlation["correlation_id"] is None
    assert correlation["suspects"][0]["service"] == "cart"
    assert correlation["origin"]["service"] == "cart"
    assert correlation["propagation"] == ["cart", "web"]
    assert any(p["id"] == "connectivity.timeout" for p in body["patterns"])
    assert any(
        t["status"] == "new" and "redis timed out" in t["template"] for t in body["templates"]
    )


def test_readable_report_names_the_suspect(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["analyze", str(incident_file(tmp_path)), "--incident-start", "2026-11-20T10:05:00Z"]
    )
    assert result.exit_code == 0, result.output
    assert "Root-cause suspects" in result.stdout
    assert "cart" in result.stdout
    assert "Worst request" in result.stdout


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x00\x01\x02\xff\xfe binary junk \x00\n" * 5,
        b"\xff\xfe not utf-8 \xc3\x28 ERROR boom\n",
        b'{"ts": "2026-11-20T10:00:00Z", "msg": "unterminated\n{not json}\n[1,2,3]\n',
        b"x" * 1_200_000 + b"\n",
        b"\n\n\n",
    ],
    ids=["empty", "binary", "invalid-utf8", "malformed-json", "1mb-line", "blank-lines"],
)
def test_ugly_files_never_crash(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "ugly.log"
    path.write_bytes(content)
    for args in (["--json"], []):
        result = runner.invoke(app, ["analyze", str(path), *args])
        assert result.exit_code == 0, result.output


def test_alternate_field_names_and_epoch_timestamps() -> None:
    raw = [
        b'{"@timestamp": 1795600000123, "serviceName": "api", "severity": "ERROR",'
        b' "message": "boom", "traceId": "t1", "spanId": "s1"}\n',
        b'{"time": "1795600001", "app": "worker", "lvl": 50, "msg": "x", "parentSpanId": "s1"}\n',
    ]
    records = read_log_lines(raw).records
    assert [r.service for r in records] == ["api", "worker"]
    assert records[0].timestamp_ns == 1_795_600_000_123_000_000
    assert (records[0].level, records[0].message) == ("error", "boom")
    assert (records[0].fields["trace_id"], records[0].fields["span_id"]) == ("t1", "s1")
    assert records[1].level == "error"
    assert records[1].fields["parent_span_id"] == "s1"


def test_plain_text_lines_guess_time_level_and_service() -> None:
    raw = [
        b"2026-11-20 10:00:01,250 ERROR [main] service=billing payment declined\n",
        b"Nov 20 10:00:02 host1 sshd[4242]: Failed password for root\n",
        b"no clock here WARN something\n",
    ]
    log_file = read_log_lines(raw)
    first, second, third = log_file.records
    assert (first.service, first.level) == ("billing", "error")
    assert first.timestamp_ns == parse_timestamp("2026-11-20T10:00:01.250Z")
    assert second.service == "sshd"
    assert third.level == "warning"
    assert third.timestamp_ns == second.timestamp_ns + 1  # no clock: right after the previous
    assert log_file.stats.text_lines == 3


def test_reader_counts_what_it_skips() -> None:
    stats = read_log_lines([b"\n", b"\x00\x00\x00\n", b"{bad json\n", b"\xff ok\n"]).stats
    assert stats.empty == 1
    assert stats.binary == 1
    assert stats.malformed_json == 1
    assert stats.invalid_utf8 == 1


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    assert runner.invoke(app, ["analyze", str(tmp_path / "missing.jsonl")]).exit_code == 2
    path = incident_file(tmp_path)
    assert runner.invoke(app, ["analyze", str(path), "--incident-start", "soon"]).exit_code == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20T10:05:00Z", 1_795_169_100 * 10**9),
        ("2026-11-20T10:05:00.000000001Z", 1_795_169_100 * 10**9 + 1),
        ("2026-11-20T11:05:00+01:00", 1_795_169_100 * 10**9),
        ("1795169100", 1_795_169_100 * 10**9),
        ("1795169100000", 1_795_169_100 * 10**9),
        ("1795169100000000000", 1_795_169_100 * 10**9),
        ("soon", None),
    ],
)
def test_timestamps(text: str, expected: int | None) -> None:
    assert parse_timestamp(text) == expected
