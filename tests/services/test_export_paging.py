"""Paging through Loki loses and repeats nothing, even with thousands of lines per nanosecond."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import respx

from ailogs.domain import Direction, LogRecord, TimeWindow
from ailogs.loki import LokiClient
from ailogs.services.pager import PageReader, Position, exact_selector, split_selector
from tests.services.fake_loki_pages import BASE_NS, FakeLokiPages

LOKI = "http://loki.test:3100"
QUERY = '{service_name=~".+"} | json duration_ms'


@pytest.fixture
async def client() -> AsyncIterator[LokiClient]:
    loki = LokiClient(LOKI, retry_attempts=1)
    yield loki
    await loki.aclose()


def serve(fake: FakeLokiPages) -> respx.MockRouter:
    router = respx.mock(base_url=LOKI, assert_all_called=False)
    router.get(path__regex=r"/loki/api/v1/(query_range|series)").mock(side_effect=fake)
    return router


def window_of(fake: FakeLokiPages) -> TimeWindow:
    return TimeWindow(BASE_NS, fake.timestamp(fake.timestamps))


async def read_all(
    client: LokiClient,
    fake: FakeLokiPages,
    *,
    direction: Direction = Direction.FORWARD,
    page_size: int = 5000,
    max_entries: int = 5000,
    position: Position | None = None,
) -> tuple[list[LogRecord], PageReader]:
    reader = PageReader(
        loki=client,
        query=QUERY,
        window=window_of(fake),
        direction=direction,
        tenant=None,
        page_size=page_size,
        max_entries=max_entries,
    )
    records: list[LogRecord] = []
    with serve(fake):
        async for batch in reader.read(position):
            records.extend(batch)
    return records, reader


def identities(records: list[LogRecord]) -> list[tuple[object, ...]]:
    return [(tuple(sorted(r.labels.items())), r.timestamp_ns, r.line) for r in records]


@pytest.mark.parametrize("direction", [Direction.FORWARD, Direction.BACKWARD])
async def test_ten_thousand_lines_per_nanosecond_arrive_exactly_once(
    client: LokiClient, direction: Direction
) -> None:
    fake = FakeLokiPages(timestamps=3, streams=20, per_stream=500)  # 10,000 per timestamp

    records, reader = await read_all(client, fake, direction=direction)

    keys = identities(records)
    assert len(keys) == fake.total == 30_000
    assert len(set(keys)) == len(keys)
    stamps = [r.timestamp_ns for r in records]
    assert stamps == sorted(stamps, reverse=direction is Direction.BACKWARD)
    assert reader.stats.enumerated_timestamps == 3
    assert reader.stats.incomplete_timestamps == []


@pytest.mark.parametrize("direction", [Direction.FORWARD, Direction.BACKWARD])
@pytest.mark.parametrize(("page_size", "max_entries"), [(4, 10), (7, 7), (5, 100), (1, 6)])
async def test_page_boundaries_inside_a_timestamp_lose_nothing(
    client: LokiClient, direction: Direction, page_size: int, max_entries: int
) -> None:
    fake = FakeLokiPages(timestamps=40, streams=3, per_stream=2)  # 6 lines per timestamp

    records, _ = await read_all(
        client, fake, direction=direction, page_size=page_size, max_entries=max_entries
    )

    keys = identities(records)
    assert len(keys) == fake.total
    assert len(set(keys)) == fake.total


async def test_a_stream_with_more_lines_at_one_nanosecond_than_loki_returns_is_reported(
    client: LokiClient,
) -> None:
    fake = FakeLokiPages(timestamps=2, streams=2, per_stream=8)

    records, reader = await read_all(client, fake, page_size=5, max_entries=5)

    assert len(set(identities(records))) == len(records) < fake.total
    assert reader.stats.incomplete_timestamps == [
        fake.timestamp(0),
        fake.timestamp(0),
        fake.timestamp(1),
        fake.timestamp(1),
    ]


@pytest.mark.parametrize("direction", [Direction.FORWARD, Direction.BACKWARD])
async def test_a_position_resumes_exactly_after_the_lines_already_read(
    client: LokiClient, direction: Direction
) -> None:
    fake = FakeLokiPages(timestamps=10, streams=4, per_stream=3)
    everything, _ = await read_all(client, fake, direction=direction, page_size=5)
    cut = 17  # in the middle of a timestamp's 12 lines
    boundary = everything[cut - 1].timestamp_ns
    skip = sum(1 for r in everything[:cut] if r.timestamp_ns == boundary)

    rest, _ = await read_all(
        client, fake, direction=direction, page_size=5, position=Position(boundary, skip)
    )

    assert identities(everything[:cut]) + identities(rest) == identities(everything)


async def test_an_empty_window_reads_nothing(client: LokiClient) -> None:
    fake = FakeLokiPages(timestamps=0, streams=2, per_stream=2)
    reader = PageReader(
        loki=client,
        query=QUERY,
        window=TimeWindow(BASE_NS, BASE_NS + 10),
        direction=Direction.FORWARD,
        tenant=None,
        page_size=10,
        max_entries=10,
    )
    with serve(fake):
        batches = [batch async for batch in reader.read()]
    assert batches == []


def test_split_selector_respects_quoted_braces() -> None:
    selector, pipeline = split_selector('{a="x}\\"y", b=`}`} |= "}"')
    assert selector == '{a="x}\\"y", b=`}`}'
    assert pipeline == ' |= "}"'


def test_exact_selector_escapes_values_and_rejects_bad_names() -> None:
    assert exact_selector({"b": 'q"}', "a": "1"}) == '{a="1", b="q\\"}"}'
    with pytest.raises(ValueError, match="label name"):
        exact_selector({'a=~".*",b': "x"})
