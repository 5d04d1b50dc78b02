"""The WebSocket handshake meets the same door as HTTP: a key in the Authorization
header, or (browsers cannot set headers) in the `bearer.<key>` subprotocol.
Uvicorn on 127.0.0.1 with its own logging left on, so a leak would show.

Logs are checked at INFO, the service's level: at DEBUG the websockets library
prints every handshake header, the Authorization header included."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from ailogs.api.app import create_app
from ailogs.api.auth import handshake_credentials
from ailogs.services.api_keys import ApiKeyRecord, issue_key
from ailogs.settings import DatabaseSettings, LokiSettings, RateLimitSettings, Settings
from ailogs.store.access import SqlApiKeyRepository
from ailogs.store.database import Database
from ailogs.store.models import Base, QueryAudit
from tests.loki.fake_tail import FakeLokiTail

STREAM = "/api/v1/ai_logs/stream"


@dataclass
class Served:
    """A running app with one key for tenant `acme`, and the fake Loki behind it."""

    url: str
    token: str
    database_url: str
    loki: FakeLokiTail

    async def denials(self) -> list[QueryAudit]:
        database = Database(self.database_url)
        try:
            for _ in range(100):  # the audit writer flushes in the background
                async with database.session() as session:
                    rows = list(await session.scalars(select(QueryAudit).order_by(QueryAudit.id)))
                if rows:
                    return rows
                await asyncio.sleep(0.05)
            return []
        finally:
            await database.dispose()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'door.db'}"
    database = Database(database_url)
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    issued = issue_key()
    await SqlApiKeyRepository(database).add(
        ApiKeyRecord(issued.key_id, "browser", issued.key_hash, "acme", (), 1)
    )
    await database.dispose()
    async with FakeLokiTail() as loki:
        settings = Settings(
            loki=LokiSettings(url=loki.url, tenant="default-tenant"),
            database=DatabaseSettings(url=database_url, migrate_on_start=False),
            rate_limit=RateLimitSettings(per_second=1000, burst=1000),
        )
        app = create_app(settings, configure_logs=False)
        # log_config=None: uvicorn's own lines (the handshake line with the URL)
        # reach the root logger, where caplog sees them.
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="info", log_config=None, lifespan="on"
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield Served(f"ws://127.0.0.1:{port}{STREAM}", issued.token, database_url, loki)
        finally:
            server.should_exit = True
            await task


async def receive(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(5):
        frame: dict[str, Any] = orjson.loads(await ws.recv())
        return frame


async def ping(ws: ClientConnection) -> None:
    await ws.send(orjson.dumps({"type": "ping", "id": 1}).decode())
    assert await receive(ws) == {"type": "pong", "id": 1}


async def test_a_browser_passes_its_key_as_a_subprotocol_and_it_is_never_logged(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    offered = [Subprotocol("bearer"), Subprotocol(f"bearer.{served.token}")]
    async with connect(served.url, subprotocols=offered) as ws:
        assert ws.subprotocol == "bearer"  # accepted without echoing the key
        await ping(ws)
        await ws.send(orjson.dumps({"type": "subscribe", "filter": {}}).decode())
        assert (await receive(ws))["type"] == "subscribed"
        await served.loki.wait_connected()
        assert served.loki.requests[-1].headers["x-scope-orgid"] == "acme"  # the key's tenant

    secret = served.token.rsplit("_", 1)[1]
    assert "WebSocket" in caplog.text  # uvicorn logged the handshake...
    assert secret not in caplog.text  # ...and no line carries the key
    assert served.token not in caplog.text


async def test_the_authorization_header_still_opens_the_stream(served: Served) -> None:
    headers = {"Authorization": f"Bearer {served.token}"}
    async with connect(served.url, additional_headers=headers) as ws:
        assert ws.subprotocol is None
        await ping(ws)


async def test_the_header_wins_over_a_subprotocol_key(served: Served) -> None:
    headers = {"Authorization": "Bearer ailk_0123456789abcdef_wrongsecret"}
    offered = [Subprotocol("bearer"), Subprotocol(f"bearer.{served.token}")]
    async with connect(served.url, additional_headers=headers, subprotocols=offered) as ws:
        refused = await receive(ws)
        assert refused["code"] == "UNAUTHORIZED"


def tampered(token: str) -> str:
    return token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("nothing", "missing API key"),
        ("wrong secret", "unknown key or wrong secret"),
        ("garbage", "malformed API key"),
        ("empty key", "missing API key"),
        ("query token", "missing API key"),
    ],
)
async def test_handshakes_without_a_valid_key_are_refused_audited_and_not_logged(
    served: Served, caplog: pytest.LogCaptureFixture, case: str, reason: str
) -> None:
    caplog.set_level(logging.INFO)
    bad = tampered(served.token)
    url, subprotocols = served.url, [Subprotocol("bearer")]
    if case == "wrong secret":
        subprotocols.append(Subprotocol(f"bearer.{bad}"))
    elif case == "garbage":
        subprotocols.append(Subprotocol("bearer.not-a-key"))
    elif case == "empty key":
        subprotocols.append(Subprotocol("bearer."))
    elif case == "query token":  # not a transport: URLs are logged
        url = f"{served.url}?token={served.token}"

    async with connect(url, subprotocols=subprotocols) as ws:
        refused = await receive(ws)
        assert refused["code"] == "UNAUTHORIZED"
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008

    [denial] = await served.denials()
    assert (denial.path, denial.reason) == (STREAM, reason)
    stored = [denial.caller_key_id, denial.reason, denial.path, denial.logql, denial.request_id]
    secret = bad.rsplit("_", 1)[1]
    assert secret not in repr(stored)
    assert secret not in caplog.text
    # A key put in the URL is refused, but uvicorn logs URLs as the client sent
    # them: one more reason the query string is not a key transport.
    assert served.token.rsplit("_", 1)[1] not in repr(stored)


async def test_a_client_that_offers_no_plain_bearer_gets_no_subprotocol(served: Served) -> None:
    # The server may only pick a protocol the client offered, and must not echo the key.
    async with connect(served.url, subprotocols=[Subprotocol(f"bearer.{served.token}")]) as ws:
        assert ws.subprotocol is None
        await ping(ws)  # authenticated all the same


class Scope:
    """Just enough of a Starlette connection for `handshake_credentials`."""

    def __init__(self, subprotocols: list[str], headers: dict[str, str] | None = None) -> None:
        self.scope = {"type": "websocket", "subprotocols": subprotocols}
        self.headers = headers or {}


@pytest.mark.parametrize(
    ("offered", "authorization", "accept"),
    [
        ([], None, None),
        (["bearer"], None, "bearer"),
        (["bearer", "bearer.ailk_k"], "Bearer ailk_k", "bearer"),
        (["Bearer.ailk_k", "bearer"], "Bearer ailk_k", "bearer"),
        (["graphql-ws", "bearer.ailk_k"], "Bearer ailk_k", None),
        (["bearer.a", "bearer.b"], "Bearer a", None),
        (["bearerailk_k"], None, None),
    ],
)
def test_which_subprotocol_carries_the_key(
    offered: list[str], authorization: str | None, accept: str | None
) -> None:
    credentials = handshake_credentials(Scope(offered))  # type: ignore[arg-type]
    assert (credentials.authorization, credentials.subprotocol) == (authorization, accept)
