"""GET /api/v1/ai_logs/context: grep -C on one exact stream."""

from __future__ import annotations

import httpx
import respx

from tests.services.fake_loki_pages import BASE_NS

CONTEXT = "/api/v1/ai_logs/context"
STREAM = '{service_name="api", level="error", pod="p\\"1"}'


def lines_between(request: httpx.Request) -> httpx.Response:
    """One line per millisecond of the stream, 100 of them from BASE_NS."""
    params = request.url.params
    start, end, limit = int(params["start"]), int(params["end"]), int(params["limit"])
    stamps = [BASE_NS + i * 1_000_000 for i in range(100)]
    chosen = [t for t in stamps if start <= t < end]
    chosen = chosen[:limit] if params["direction"] == "forward" else chosen[::-1][:limit]
    values = [
        [
            str(t),
            f'{{"msg": "step {(t - BASE_NS) // 1_000_000} token=sk-live-abcdefghijklmnopqrstu"}}',
        ]
        for t in chosen
    ]
    stream = {"service_name": "api", "level": "error", "pod": 'p"1'}
    return httpx.Response(
        200,
        json={
            "status": "success",
            "data": {"resultType": "streams", "result": [{"stream": stream, "values": values}]},
        },
    )


async def test_lines_around_a_timestamp_on_the_exact_stream(
    api: httpx.AsyncClient, loki: respx.MockRouter
) -> None:
    route = loki.get("/loki/api/v1/query_range").mock(side_effect=lines_between)
    target = BASE_NS + 50 * 1_000_000

    response = await api.get(
        CONTEXT, params={"stream": STREAM, "timestamp": str(target), "before": 3, "after": 2}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert [e["message"].split(" token")[0] for e in body["before"]] == [
        "step 47",
        "step 48",
        "step 49",
    ]
    assert [e["message"].split(" token")[0] for e in body["at"]] == ["step 50"]
    assert [e["message"].split(" token")[0] for e in body["after"]] == ["step 51", "step 52"]
    assert "sk-live" not in response.text, response.text[:3000]
    for call in route.calls:
        assert (
            call.request.url.params["query"] == '{level="error", pod="p\\"1", service_name="api"}'
        )


async def test_a_json_stream_and_an_rfc3339_timestamp_work_too(
    api: httpx.AsyncClient, loki: respx.MockRouter
) -> None:
    loki.get("/loki/api/v1/query_range").mock(side_effect=lines_between)
    response = await api.get(
        CONTEXT,
        params={
            "stream": '{"service_name": "api", "level": "error", "pod": "p\\"1"}',
            "timestamp": "2026-11-18T11:06:40.050000000Z",
            "before": 1,
            "after": 1,
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["stats"] == {"before": 1, "at": 1, "after": 1}


async def test_selectors_that_could_widen_the_stream_are_refused(api: httpx.AsyncClient) -> None:
    for stream in (
        '{service_name=~".+"}',
        '{service_name!="x"}',
        '{a="b"} or {c="d"}',
        '{a="b"} |= "x"',
        "{}",
        '{"a": 1}',
        '{a="b", 0x="c"}',
    ):
        response = await api.get(CONTEXT, params={"stream": stream, "timestamp": "1"})
        assert response.status_code == 422, stream
        assert response.json()["error"]["field"] == "stream"
    response = await api.get(CONTEXT, params={"stream": '{a="b"}', "timestamp": "yesterday"})
    assert response.json()["error"]["field"] == "timestamp"
    response = await api.get(CONTEXT, params={"stream": '{a="b"}', "timestamp": "1", "before": 501})
    assert response.json()["error"]["field"] == "before"
