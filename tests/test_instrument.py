"""The instrument helper writes DESIGN.md §3 lines that ailogs and Promtail read."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import orjson
import pytest

from ailogs.domain import make_record
from ailogs.instrument import AIOperationLogger, JsonLogFormatter, normalise_level

RFC3339_NANO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$")
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")
LEVELS = {"debug", "info", "warning", "error", "critical"}


class FakeClock:
    """A monotonic clock the test advances by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter(service="llm-proxy", static_fields={"env": "test"}))
    logger = logging.getLogger("tests.instrument")
    logger.handlers = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.handlers = []


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_is_one_flat_snake_case_json_object(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.warning(
        "payment declined for %s", "ord-1", extra={"workspaceId": "ws-9", "http-status": 402}
    )
    (line,) = lines(stream)
    assert RFC3339_NANO.match(str(line["ts"]))
    assert line["level"] == "warning"
    assert line["service"] == "llm-proxy"
    assert line["msg"] == "payment declined for ord-1"
    assert line["event"] == "log"
    assert line["workspace_id"] == "ws-9"
    assert line["http_status"] == 402
    assert line["env"] == "test"
    assert all(SNAKE.match(key) for key in line)
    assert all(not isinstance(value, dict) for value in line.values())


def test_ailogs_reads_the_line_back_with_its_service_level_and_message(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.error("upstream timed out", extra={"event": "http.request", "correlation_id": "r-1"})
    raw = stream.getvalue().splitlines()[0]
    record = make_record(1, raw, labels={})
    assert (record.service, record.level, record.message) == (
        "llm-proxy",
        "error",
        "upstream timed out",
    )
    assert record.field_str("correlation_id") == "r-1"
    assert record.field_str("event") == "http.request"


def test_exceptions_become_a_low_cardinality_error_type(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    try:
        raise TimeoutError("model did not answer")
    except TimeoutError:
        logger.exception("call failed")
    (line,) = lines(stream)
    assert line["level"] == "error"
    assert line["error_type"] == "TimeoutError"
    assert "model did not answer" in str(line["exception"])


@pytest.mark.parametrize(
    ("name", "level"),
    [
        ("WARN", "warning"),
        ("warning", "warning"),
        ("err", "error"),
        ("FATAL", "critical"),
        ("trace", "debug"),
        ("notice", "info"),
        ("whatever", "info"),
    ],
)
def test_level_names_normalise_to_the_design_values(name: str, level: str) -> None:
    assert normalise_level(name) == level
    assert level in LEVELS


def test_trace_context_comes_from_the_current_opentelemetry_span(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    trace = pytest.importorskip("opentelemetry.trace")
    logger, stream = captured
    context = trace.SpanContext(
        trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
        span_id=0x00F067AA0BA902B7,
        is_remote=False,
    )
    with trace.use_span(trace.NonRecordingSpan(context)):
        logger.info("inside a span")
    logger.info("outside")
    inside, outside = lines(stream)
    assert inside["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert inside["span_id"] == "00f067aa0ba902b7"
    assert "trace_id" not in outside


def test_an_operation_logs_tokens_model_duration_and_ids(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    clock = FakeClock()
    ai = AIOperationLogger(logger, provider="openai", clock=clock)
    with ai.operation(
        "chat", model="gpt-4o", workspace_id="ws-1", conversation_id="c-1", correlation_id="r-1"
    ) as op:
        clock.now += 0.120
        op.mark_first_token()
        clock.now += 1.130
        op.input_tokens, op.output_tokens = 812, 164
    (line,) = lines(stream)
    assert line["event"] == "ai.operation"
    assert line["level"] == "info"
    assert (line["operation"], line["provider"], line["model"]) == ("chat", "openai", "gpt-4o")
    assert (line["input_tokens"], line["output_tokens"], line["tokens_used"]) == (812, 164, 976)
    assert line["duration_ms"] == pytest.approx(1250.0)
    assert line["ttft_ms"] == pytest.approx(120.0)
    assert line["status"] == "ok"
    assert "error_type" not in line
    assert (line["workspace_id"], line["conversation_id"], line["correlation_id"]) == (
        "ws-1",
        "c-1",
        "r-1",
    )


async def test_a_failed_async_operation_logs_the_error_class_and_reraises(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    clock = FakeClock()
    ai = AIOperationLogger(logger, clock=clock)

    class RateLimitError(Exception):
        pass

    async def call_model() -> None:
        async with ai.operation("embeddings", model="text-embedding-3-small", provider="openai"):
            clock.now += 0.5
            raise RateLimitError("429")

    with pytest.raises(RateLimitError):
        await call_model()
    (line,) = lines(stream)
    assert line["level"] == "error"
    assert line["status"] == "error"
    assert line["error_type"] == "RateLimitError"
    assert line["duration_ms"] == pytest.approx(500.0)
    assert "input_tokens" not in line
