"""`ailogs simulate` on the command line."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import respx
from typer.testing import CliRunner

from ailogs.cli import app

runner = CliRunner()
FIXED = ["--start", "2026-11-20T10:00:00Z", "--duration", "30", "--rate", "4", "--seed", "9"]


def test_writes_deterministic_json_lines_to_a_file(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for target in (first, second):
        result = runner.invoke(app, ["simulate", "--output", str(target), *FIXED])
        assert result.exit_code == 0, result.output
    assert first.read_text() == second.read_text()
    lines = [orjson.loads(line) for line in first.read_text().splitlines()]
    assert len(lines) > 50
    assert lines[0]["ts"].startswith("2026-11-20T10:00:0")


@respx.mock
def test_pushes_to_loki_with_the_tenant() -> None:
    route = respx.post("http://loki.test:3100/loki/api/v1/push").mock(
        return_value=httpx.Response(204)
    )
    args = ["simulate", "--loki-url", "http://loki.test:3100", "--tenant", "acme", "--no-realtime"]
    result = runner.invoke(app, [*args, *FIXED])
    assert result.exit_code == 0, result.output
    assert route.called
    assert all(call.request.headers["X-Scope-OrgID"] == "acme" for call in route.calls)


@respx.mock
def test_an_unreachable_loki_is_one_clear_line_and_exit_1() -> None:
    respx.post("http://loki.test:3100/loki/api/v1/push").mock(
        return_value=httpx.Response(401, text="no org id")
    )
    args = ["simulate", "--loki-url", "http://loki.test:3100", "--no-realtime", *FIXED]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "Loki answered 401: no org id" in result.output


def test_needs_exactly_one_destination() -> None:
    result = runner.invoke(app, ["simulate", *FIXED])
    assert result.exit_code == 2
