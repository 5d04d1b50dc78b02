"""`ailogs keys create|revoke|list`: manage the API keys the server accepts.

The token is printed once, at creation; only its hash is stored. Listings and
messages name keys by id only.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer

from ailogs.cli.base import app, settings_or_exit
from ailogs.errors import DatabaseUnavailable
from ailogs.services.access import is_loopback
from ailogs.services.api_keys import ApiKeyRecord, issue_key
from ailogs.settings import Settings
from ailogs.store.access import SqlApiKeyRepository
from ailogs.store.database import Database

keys_app = typer.Typer(help="Create, revoke and list API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

T = TypeVar("T")


def _with_repository(work: Callable[[SqlApiKeyRepository], Awaitable[T]]) -> T:
    settings = settings_or_exit()

    async def run() -> T:
        database = Database(settings.database.url)
        try:
            return await work(SqlApiKeyRepository(database))
        finally:
            await database.dispose()

    try:
        return asyncio.run(run())
    except DatabaseUnavailable:
        sys.stderr.write(
            "ailogs: the database is unavailable or not migrated; "
            "check AILOGS_DATABASE_URL, run `ailogs migrate`\n"
        )
        raise typer.Exit(code=1) from None
    except Exception as exc:  # e.g. the table is missing: name the fix, not the trace
        sys.stderr.write(f"ailogs: {type(exc).__name__}; run `ailogs migrate` first?\n")
        raise typer.Exit(code=1) from None


def _when(at_ns: int | None) -> str:
    if at_ns is None:
        return "-"
    return datetime.fromtimestamp(at_ns / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="Who or what the key is for.")],
    tenant: Annotated[
        str | None, typer.Option(help="Loki tenant (X-Scope-OrgID); default AILOGS_LOKI_TENANT.")
    ] = None,
    workspace: Annotated[
        list[str] | None,
        typer.Option(help="A workspace the key may read (repeat); none means every workspace."),
    ] = None,
) -> None:
    """Create a key and print its token once."""
    if tenant is not None and (not tenant.strip() or any(c in tenant for c in "\r\n|")):
        sys.stderr.write("ailogs: --tenant must not be empty or contain newlines or `|`\n")
        raise typer.Exit(code=2)
    issued = issue_key()
    record = ApiKeyRecord(
        key_id=issued.key_id,
        name=name[:128],
        key_hash=issued.key_hash,
        tenant=tenant,
        workspaces=tuple(dict.fromkeys(workspace or ())),
        created_at_ns=time.time_ns(),
    )
    _with_repository(lambda repo: repo.add(record))
    sys.stderr.write(f"created key {issued.key_id}; the token below is shown only once\n")
    sys.stdout.write(issued.token + "\n")


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key id (from `keys list`).")]) -> None:
    """Revoke a key; servers refuse it within a few seconds."""
    if not _with_repository(lambda repo: repo.revoke(key_id, at_ns=time.time_ns())):
        sys.stderr.write(f"ailogs: no active key with id {key_id[:64]!r}\n")
        raise typer.Exit(code=1)
    sys.stdout.write(f"revoked {key_id}\n")


@keys_app.command("list")
def list_keys() -> None:
    """List keys: id, name, tenant, workspaces, created, last used, revoked."""
    records = _with_repository(lambda repo: repo.list_keys())
    sys.stdout.write("ID\tNAME\tTENANT\tWORKSPACES\tCREATED\tLAST_USED\tREVOKED\n")
    for record in records:
        fields = (
            record.key_id,
            record.name,
            record.tenant or "-",
            ",".join(record.workspaces) or "*",
            _when(record.created_at_ns),
            _when(record.last_used_at_ns),
            _when(record.revoked_at_ns),
        )
        sys.stdout.write("\t".join(fields) + "\n")


def refuse_open_public_bind(settings: Settings) -> None:
    """Exit 2 rather than serve without keys on a non-loopback address.

    AILOGS_ALLOW_ANONYMOUS=true opts in. A database that cannot be read counts
    as "no keys": nothing proves the door is closed.
    """
    if settings.allow_anonymous or is_loopback(settings.host):
        return

    async def count() -> int:
        database = Database(settings.database.url, schema=settings.database.schema_name)
        try:
            return await SqlApiKeyRepository(database).count_active()
        except Exception:
            return 0
        finally:
            await database.dispose()

    if asyncio.run(count()) > 0:
        return
    sys.stderr.write(
        f"ailogs: refusing to serve on {settings.host} without API keys; create one with "
        "`ailogs keys create`, bind 127.0.0.1, or set AILOGS_ALLOW_ANONYMOUS=true\n"
    )
    raise typer.Exit(code=2)
