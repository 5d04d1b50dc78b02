"""`ailogs keys`: the token is printed once, listings show ids, revocation sticks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ailogs.cli import app
from ailogs.store.database import Database
from ailogs.store.models import Base


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"

    async def create() -> None:
        database = Database(url)
        async with database.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        await database.dispose()

    asyncio.run(create())
    monkeypatch.setenv("AILOGS_DATABASE_URL", url)
    return url


def test_create_list_revoke(database_url: str) -> None:
    runner = CliRunner()

    created = runner.invoke(
        app, ["keys", "create", "--name", "bot", "--tenant", "acme", "--workspace", "ws-1"]
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip()
    assert token.startswith("ailk_")
    key_id = token.split("_")[1]

    listed = runner.invoke(app, ["keys", "list"])
    assert listed.exit_code == 0
    assert f"{key_id}\tbot\tacme\tws-1\t" in listed.stdout
    assert token.split("_", 2)[2] not in listed.stdout

    assert runner.invoke(app, ["keys", "revoke", key_id]).exit_code == 0
    again = runner.invoke(app, ["keys", "revoke", key_id])
    assert again.exit_code == 1
    assert "no active key" in again.stderr
    assert runner.invoke(app, ["keys", "list"]).stdout.splitlines()[1].split("\t")[6] != "-"


def test_a_bad_tenant_is_refused(database_url: str) -> None:
    result = CliRunner().invoke(app, ["keys", "create", "--name", "x", "--tenant", "a|b"])
    assert result.exit_code == 2
