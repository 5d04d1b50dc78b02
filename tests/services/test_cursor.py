"""Cursors on /query: every line exactly once across pages; tampering is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import respx

from ailogs.analysis.redaction import Redactor
from ailogs.cache.memory import InMemoryQueryCache
from ailogs.domain import Direction, Mode, QuerySpec, TimeWindow
from ailogs.errors import InvalidCursor
from ailogs.loki import LokiClient
from ailogs.services.cursor import CursorCodec, CursorState
from ailogs.services.pager import Position
from ailogs.services.query import QueryScope
from ailogs.services.query_pages import query_with_cursor
from tests.services.fake_loki_pages import BASE_NS, FakeLokiPages

LOKI = "http://loki.test:3100"


@pytest.fixture
async def client() -> AsyncIterator[LokiClient]:
    loki = LokiClient(LOKI, retry_attempts=1)
    yield loki
    await loki.aclose()


def spec_for(fake: FakeLokiPages, direction: Direction, limit: int, **extra: Any) -> QuerySpec:
    window = TimeWindow(BASE_NS, fake.timestamp(fake.timestamps))
    return QuerySpec(mode=Mode.AUDIT, window=window, direction=direction, limit=limit, **extra)


async def all_pages(
    client: LokiClient, fake: FakeLokiPages, spec: QuerySpec, codec: CursorCodec
) -> tuple[list[dict[str, Any]], int]:
    entries: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    with respx.mock(base_url=LOKI, assert_all_called=False) as router:
        router.get(path__regex=r"/loki/api/v1/(query_range|series)").mock(side_effect=fake)
        while True:
            page = await query_with_cursor(
                spec, cursor=cursor, codec=codec, loki=client, cache=InMemoryQueryCache(),
                scope=QueryScope(tenant="t1", loki_max_entries=50), redactor=Redactor(),
            )  # fmt: skip
            answer = page.to_dict()
            pages += 1
            entries.extend(answer["entries"])
            assert len(answer["entries"]) <= spec.limit
            cursor = answer["next_cursor"]
            if cursor is None:
                assert answer["stats"]["truncated"] is False or pages > 1
                return entries, pages
            assert pages < 500


@pytest.mark.parametrize("direction", [Direction.FORWARD, Direction.BACKWARD])
@pytest.mark.parametrize("limit", [1, 5, 7, 13, 40])
async def test_pages_hold_every_line_once_even_with_ties(
    client: LokiClient, direction: Direction, limit: int
) -> None:
    fake = FakeLokiPages(timestamps=6, streams=4, per_stream=3)  # 12 lines per nanosecond

    entries, pages = await all_pages(client, fake, spec_for(fake, direction, limit), CursorCodec())

    keys = [(e["timestamp"], e["labels"]["pod"], e["message"]) for e in entries]
    assert len(keys) == fake.total
    assert len(set(keys)) == fake.total
    assert pages >= fake.total // limit


async def test_a_nanosecond_with_more_lines_than_loki_returns_pages_through(
    client: LokiClient,
) -> None:
    fake = FakeLokiPages(timestamps=2, streams=10, per_stream=12)  # 120 > max entries 50

    entries, _ = await all_pages(client, fake, spec_for(fake, Direction.FORWARD, 30), CursorCodec())

    assert len({(e["timestamp"], e["labels"]["pod"], e["message"]) for e in entries}) == 240


def test_a_modified_cursor_is_refused() -> None:
    codec = CursorCodec(b"k" * 32)
    state = CursorState(TimeWindow(1, 10), Position(5, 2))
    token = codec.encode(state, tenant="t1", logql='{a="b"}', direction=Direction.FORWARD)
    assert codec.decode(token, tenant="t1", logql='{a="b"}', direction=Direction.FORWARD) == state

    payload, mac = token.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    for bad in (f"{flipped}.{mac}", f"{payload}.{mac[::-1]}", "garbage", "", "a.b.c", "é.é"):
        with pytest.raises(InvalidCursor):
            codec.decode(bad, tenant="t1", logql='{a="b"}', direction=Direction.FORWARD)


def test_a_cursor_only_works_for_its_tenant_query_and_secret() -> None:
    codec = CursorCodec(b"k" * 32)
    state = CursorState(TimeWindow(1, 10), Position(5))
    token = codec.encode(state, tenant="t1", logql='{a="b"}', direction=Direction.FORWARD)
    for tenant, logql, direction in [
        ("t2", '{a="b"}', Direction.FORWARD),
        (None, '{a="b"}', Direction.FORWARD),
        ("t1", '{a="c"}', Direction.FORWARD),
        ("t1", '{a="b"}', Direction.BACKWARD),
    ]:
        with pytest.raises(InvalidCursor):
            codec.decode(token, tenant=tenant, logql=logql, direction=direction)
    with pytest.raises(InvalidCursor):
        CursorCodec(b"x" * 32).decode(
            token, tenant="t1", logql='{a="b"}', direction=Direction.FORWARD
        )


class SecretLines(FakeLokiPages):
    """Lines of one stream at one nanosecond that differ only by a secret."""

    def line(self, k: int, stream: int, i: int) -> str:
        return f'{{"level":"info","msg":"login api_key=k{stream:04d}{i:08d}zz"}}'


@pytest.mark.parametrize("direction", [Direction.FORWARD, Direction.BACKWARD])
@pytest.mark.parametrize("limit", [1, 2, 5, 7])
async def test_lines_equal_once_redacted_are_each_returned(
    client: LokiClient, direction: Direction, limit: int
) -> None:
    fake = SecretLines(timestamps=4, streams=3, per_stream=3)

    entries, _ = await all_pages(client, fake, spec_for(fake, direction, limit), CursorCodec())

    assert len(entries) == fake.total
    assert all("api_key=[REDACTED:passwords]" in entry["message"] for entry in entries)
    per_line: dict[tuple[str, str], int] = {}
    for entry in entries:
        key = (entry["timestamp"], entry["labels"]["pod"])
        per_line[key] = per_line.get(key, 0) + 1
    assert set(per_line.values()) == {fake.per_stream}


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_the_tail_is_every_entry_at_the_last_timestamp(direction: str) -> None:
    from ailogs.domain import format_timestamp
    from ailogs.services.cursor import entry_identity, tail_identities

    stamps = [BASE_NS, BASE_NS + 1, BASE_NS + 1, BASE_NS + 2, BASE_NS + 2, BASE_NS + 2]
    if direction == "backward":
        stamps.reverse()
    entries = [
        {"timestamp": format_timestamp(ts), "message": f"m{i}"} for i, ts in enumerate(stamps)
    ]
    last = stamps[-1]

    assert tail_identities(entries) == (
        last,
        tuple(entry_identity(e) for e, ts in zip(entries, stamps, strict=True) if ts == last),
    )
    assert len(tail_identities(entries)[1]) == stamps.count(last)
    assert tail_identities(entries[:1]) == (stamps[0], (entry_identity(entries[0]),))
