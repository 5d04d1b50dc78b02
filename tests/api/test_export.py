"""POST /api/v1/ai_logs/export as a client downloading logs sees it."""

from __future__ import annotations

import csv
import io

import httpx
import orjson
import respx

from tests.services.fake_loki_pages import BASE_NS, FakeLokiPages

EXPORT = "/api/v1/ai_logs/export"
START = str(BASE_NS // 1_000_000_000)


def serve(loki: respx.MockRouter, fake: FakeLokiPages) -> None:
    loki.get(path__regex=r"/loki/api/v1/(query_range|series)").mock(side_effect=fake)


def body(**extra: object) -> dict[str, object]:
    return {"start": START, "end": str(int(START) + 60), "mode": "audit", **extra}


async def test_ndjson_has_every_line_once_and_a_trailing_status(
    api: httpx.AsyncClient, loki: respx.MockRouter
) -> None:
    fake = FakeLokiPages(timestamps=5, streams=10, per_stream=700)  # 7,000 per nanosecond
    serve(loki, fake)

    response = await api.post(EXPORT, json=body())

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [orjson.loads(line) for line in response.content.splitlines()]
    status = lines.pop()["_status"]
    assert status["complete"] is True
    assert status["lines"] == len(lines) == fake.total
    keys = {(e["timestamp"], e["labels"]["pod"], e["message"]) for e in lines}
    assert len(keys) == fake.total
    assert set(lines[0]) == {"timestamp", "service", "level", "message", "labels", "fields"}
    assert [e["timestamp"] for e in lines] == sorted(e["timestamp"] for e in lines)


async def test_csv_has_stable_columns_and_a_status_comment(
    api: httpx.AsyncClient, loki: respx.MockRouter
) -> None:
    serve(loki, FakeLokiPages(timestamps=3, streams=2, per_stream=2))

    response = await api.post(EXPORT, json=body(format="csv"))

    assert response.status_code == 200
    text = response.text
    *rows, last = text.rstrip("\n").split("\n")
    assert last.startswith("# status: ")
    assert orjson.loads(last.removeprefix("# status: "))["lines"] == 12
    table = list(csv.reader(io.StringIO("\n".join(rows))))
    assert table[0] == ["timestamp", "service", "level", "message", "labels", "fields", "line"]
    assert len(table) == 13
    assert orjson.loads(table[1][4])["service_name"].startswith("svc-")


async def test_json_is_one_document_and_max_lines_cuts_it(
    api: httpx.AsyncClient, loki: respx.MockRouter
) -> None:
    serve(loki, FakeLokiPages(timestamps=3, streams=2, per_stream=2))

    response = await api.post(EXPORT, json=body(format="json", max_lines=5))

    document = response.json()
    assert len(document["entries"]) == 5
    assert document["status"]["truncated"] is True
    assert document["status"]["complete"] is False


async def test_an_empty_window_is_an_empty_200_with_its_status(
    api: httpx.AsyncClient, loki: respx.MockRouter
) -> None:
    serve(loki, FakeLokiPages(timestamps=0, streams=2, per_stream=2))

    response = await api.post(EXPORT, json=body())

    assert response.status_code == 200
    assert orjson.loads(response.content) == {
        "_status": {
            "complete": True,
            "lines": 0,
            "max_lines": 1_000_000,
            "truncated": False,
            "requests": 1,
            "enumerated_timestamps": 0,
            "incomplete_timestamps": 0,
            "error": None,
        }
    }


async def test_secrets_in_lines_are_masked_in_the_export(
    api: httpx.AsyncClient, loki: respx.MockRouter
) -> None:
    line = '{"msg": "calling with Bearer abcdefghijklmnopqrst", "level": "info"}'
    payload = {
        "status": "success",
        "data": {
            "resultType": "streams",
            "result": [{"stream": {"service_name": "api"}, "values": [[str(BASE_NS), line]]}],
        },
    }
    loki.get("/loki/api/v1/query_range").mock(return_value=httpx.Response(200, json=payload))

    response = await api.post(EXPORT, json=body())

    assert b"abcdefghijklmnopqrst" not in response.content
    assert b"[REDACTED:tokens]" in response.content


async def test_bad_format_and_bad_max_lines_are_422_naming_the_field(
    api: httpx.AsyncClient,
) -> None:
    response = await api.post(EXPORT, json=body(format="xml"))
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "format"
    response = await api.post(EXPORT, json=body(max_lines=0))
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "max_lines"


async def test_a_window_over_the_byte_budget_is_refused_with_a_narrower_suggestion(
    api: httpx.AsyncClient, loki: respx.MockRouter
) -> None:
    loki.get("/loki/api/v1/index/stats").mock(
        return_value=httpx.Response(
            200, json={"streams": 900, "chunks": 10**5, "bytes": 10**15, "entries": 10**12}
        )
    )
    volume = {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": {"service_name": "api"}, "value": [0, "900"]},
                {"metric": {"service_name": "worker"}, "value": [0, "50"]},
            ],
        },
    }
    loki.get("/loki/api/v1/index/volume").mock(return_value=httpx.Response(200, json=volume))

    response = await api.post(EXPORT, json={"time_range": "7d", "mode": "audit"})

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "QUERY_TOO_EXPENSIVE"
    assert "services=api,worker" in error["remediation"]
