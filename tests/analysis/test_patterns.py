"""The pattern library: literal log lines in, pattern ids out."""

from __future__ import annotations

import random

import pytest

from ailogs.analysis.patterns import (
    PatternLibrary,
    PatternLibraryError,
    Severity,
    default_pattern_library,
    detect_patterns,
    load_pattern_library,
)
from ailogs.domain import make_record

STABLE_IDS = {
    "connectivity.timeout",
    "connectivity.connection_refused",
    "connectivity.dns_failure",
    "performance.slow_query",
    "performance.high_latency",
    "performance.memory_pressure",
    "ai.rate_limit",
    "ai.token_limit",
    "ai.model_timeout",
    "ai.content_filter",
    "security.auth_failure",
    "security.invalid_token",
    "infrastructure.disk_full",
    "infrastructure.service_unavailable",
    "infrastructure.oom_killed",
    "data.validation_error",
    "data.parse_error",
}


@pytest.fixture(scope="module")
def library() -> PatternLibrary:
    return default_pattern_library()


@pytest.fixture(scope="module")
def reference(library: PatternLibrary) -> PatternLibrary:
    return library.with_engine("re")


def test_the_shipped_library_has_every_stable_id(library: PatternLibrary) -> None:
    assert STABLE_IDS <= {p.id for p in library.patterns}
    for pattern in library.patterns:
        assert pattern.category == pattern.id.split(".")[0]
        assert pattern.description
        assert pattern.recommendation


# (line, the pattern id it must raise). Real shapes from Java, Python, Go, nginx,
# syslog and LLM providers.
POSITIVES = [
    ("java.net.SocketTimeoutException: Read timed out", "connectivity.timeout"),
    (
        "requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='x', port=443)",
        "connectivity.timeout",
    ),
    ("dial tcp 10.0.0.5:5432: i/o timeout", "connectivity.timeout"),
    ("rpc error: code = DeadlineExceeded desc = context deadline exceeded", "connectivity.timeout"),
    (
        "2024/05/01 10:00:00 [error] 31#31: *1 upstream timed out (110: Connection timed out) "
        "while reading response header from upstream",
        "connectivity.timeout",
    ),
    ("connect ECONNREFUSED 127.0.0.1:6379", "connectivity.connection_refused"),
    ("psycopg2.OperationalError: connection refused", "connectivity.connection_refused"),
    (
        "java.net.ConnectException: Connection refused (Connection refused)",
        "connectivity.connection_refused",
    ),
    ("read tcp 10.1.1.1:443: connection reset by peer", "connectivity.connection_refused"),
    ("dial tcp: lookup redis on 10.96.0.10:53: no such host", "connectivity.dns_failure"),
    ("socket.gaierror: [Errno -2] Name or service not known", "connectivity.dns_failure"),
    ("java.net.UnknownHostException: db.internal", "connectivity.dns_failure"),
    ("curl: (6) Could not resolve host: api.example.com", "connectivity.dns_failure"),
    ("LOG:  duration: 2301.112 ms  statement: SELECT * FROM orders", "performance.slow_query"),
    ("# Query_time: 12.503  Lock_time: 0.000 Rows_sent: 1", "performance.slow_query"),
    ("WARN slow query detected table=orders", "performance.slow_query"),
    ('{"msg":"request done","duration_ms":45012}', "performance.high_latency"),
    ("handler took 15000ms to respond", "performance.high_latency"),
    ("java.lang.OutOfMemoryError: GC overhead limit exceeded", "performance.memory_pressure"),
    ("fork: Cannot allocate memory", "performance.memory_pressure"),
    ("openai.RateLimitError: Error code: 429 - rate_limit_exceeded", "ai.rate_limit"),
    ("HTTP/1.1 429 Too Many Requests", "ai.rate_limit"),
    ('10.0.0.1 - - [01/May/2024:10:00:00 +0000] "POST /v1/chat HTTP/1.1" 429 87', "ai.rate_limit"),
    ("google.api_core.exceptions.ResourceExhausted: 429 RESOURCE_EXHAUSTED", "ai.rate_limit"),
    ("botocore ThrottlingException: Rate exceeded", "ai.rate_limit"),
    (
        "This model's maximum context length is 8192 tokens. However, your messages "
        "resulted in 9001 tokens (context_length_exceeded)",
        "ai.token_limit",
    ),
    (
        "anthropic.BadRequestError: prompt is too long: 201234 tokens > 200000 maximum",
        "ai.token_limit",
    ),
    ('{"finish_reason": "length"}', "ai.token_limit"),
    ("openai.APITimeoutError: Request timed out.", "ai.model_timeout"),
    ("LLM request timed out after 60s", "ai.model_timeout"),
    ('{"finish_reason":"content_filter"}', "ai.content_filter"),
    ("ResponsibleAIPolicyViolation: content management policy", "ai.content_filter"),
    ("Failed password for invalid user admin from 1.2.3.4 port 22 ssh2", "security.auth_failure"),
    (
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh",
        "security.auth_failure",
    ),
    ("Access denied for user 'root'@'localhost' (using password: YES)", "security.auth_failure"),
    ("openai.AuthenticationError: Incorrect API key provided", "security.auth_failure"),
    ("jwt.exceptions.ExpiredSignatureError: Signature has expired", "security.invalid_token"),
    ("io.jsonwebtoken.ExpiredJwtException: JWT expired at 2024-01-01", "security.invalid_token"),
    ('{"error":"invalid_token","error_description":"Token has expired"}', "security.invalid_token"),
    ("OSError: [Errno 28] No space left on device", "infrastructure.disk_full"),
    ("kubelet: node has DiskPressure", "infrastructure.disk_full"),
    ("HTTP/1.1 503 Service Unavailable", "infrastructure.service_unavailable"),
    (
        "upstream connect error or disconnect/reset before headers",
        "infrastructure.service_unavailable",
    ),
    ("no healthy upstream", "infrastructure.service_unavailable"),
    ('{"type":"error","error":{"type":"overloaded_error"}}', "infrastructure.service_unavailable"),
    (
        "kernel: Out of memory: Killed process 4242 (java) total-vm:8123456kB",
        "infrastructure.oom_killed",
    ),
    ("Last State: Terminated Reason: OOMKilled Exit Code: 137", "infrastructure.oom_killed"),
    ("java.lang.OutOfMemoryError: Java heap space", "infrastructure.oom_killed"),
    (
        "pydantic_core._pydantic_core.ValidationError: 1 validation error for Order",
        "data.validation_error",
    ),
    ("java.lang.IllegalArgumentException: amount must be positive", "data.validation_error"),
    ("422 Unprocessable Entity: field required", "data.validation_error"),
    ("json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)", "data.parse_error"),
    ("SyntaxError: Unexpected token < in JSON at position 0", "data.parse_error"),
    ("json: cannot unmarshal string into Go value of type int", "data.parse_error"),
    ('ERROR:  syntax error at or near "FROM"', "data.parse_error"),
]


@pytest.mark.parametrize(("line", "pattern_id"), POSITIVES)
def test_real_failure_lines_raise_their_pattern(
    library: PatternLibrary, line: str, pattern_id: str
) -> None:
    assert pattern_id in library.match_line(line)


NEGATIVES = [
    "config loaded: timeout=30 read_timeout=10 connect_timeout=5 retries=3",
    'settings {"timeout": 30, "rate_limit": 100, "max_tokens": 4096}',
    "GET /health 200 3ms",
    "INFO Accepted publickey for deploy from 10.0.0.2 port 50022 ssh2",
    "user logged in successfully",
    "cache hit ratio 0.98, memory usage 41%",
    "took 120ms",
    '10.0.0.1 - - [01/May/2024:10:00:00 +0000] "GET /v1/models HTTP/1.1" 200 4290',
    "Setting request timeout to 60 seconds",
    "tokens: 1234 prompt, 512 completion",
    "",
]


@pytest.mark.parametrize("line", NEGATIVES)
def test_ordinary_lines_and_config_dumps_raise_nothing(library: PatternLibrary, line: str) -> None:
    assert library.match_line(line) == ()


def test_a_line_counts_once_per_pattern_even_when_it_repeats(library: PatternLibrary) -> None:
    line = "timed out; retry timed out; Connection timed out"
    assert library.match_line(line) == ("connectivity.timeout",)


def test_a_line_can_raise_several_patterns_in_library_order(library: PatternLibrary) -> None:
    ids = library.match_line(
        "openai.APITimeoutError: Request timed out. then 503 Service Unavailable"
    )
    assert ids == ("connectivity.timeout", "ai.model_timeout", "infrastructure.service_unavailable")


def _ugly_corpus() -> list[str]:
    rng = random.Random(7)
    lines = [line for line, _ in POSITIVES] + NEGATIVES
    junk = [
        "",
        "\x00\x01\x02 binary \xff\xfe",
        "caf\u00e9 timed out \u2603 \U0001f600",
        "broken \udcff\udcfe surrogates connection refused",
        "line\nwith an embedded newline: no space left on device",
        "no space left on\ndevice",  # split by a newline: must not match
        "x" * 1_000_000 + " out of memory",
        "timed out " * 50_000,
        "K\u212a timed out",  # Kelvin sign: ASCII-only case folding in both engines
    ]
    lines.extend(junk)
    alphabet = "abcdefghijklmnopqrstuvwxyz 0123456789:/._-\"'=\udcff\u00e9\n\t"
    for _ in range(500):
        size = rng.randint(0, 120)
        lines.append("".join(rng.choice(alphabet) for _ in range(size)))
        lines.append(rng.choice(lines[: len(POSITIVES)]) + " " + str(rng.random()))
    rng.shuffle(lines)
    return lines


def test_hyperscan_and_the_re_reference_agree_on_ugly_input(
    library: PatternLibrary, reference: PatternLibrary
) -> None:
    corpus = _ugly_corpus()
    assert library.match_lines(corpus) == reference.match_lines(corpus)
    assert library.match_line("no space left on\ndevice") == ()


def test_logql_regex_is_one_case_insensitive_alternation(library: PatternLibrary) -> None:
    regex = library.logql_regex()
    assert regex.startswith("(?i)")
    assert regex.count("(?:") >= len(library.patterns)


def test_select_expands_categories_and_ignores_unknown_names(library: PatternLibrary) -> None:
    selected = library.select(["ai", "infrastructure.disk_full", "nope"])
    assert selected == {
        "ai.rate_limit",
        "ai.token_limit",
        "ai.model_timeout",
        "ai.content_filter",
        "infrastructure.disk_full",
    }
    assert library.select([]) == frozenset()


ENTRY = """
  - id: {id}
    category: custom
    severity: {severity}
    description: d
    recommendation: r
    regex: '{regex}'
"""


def _library(*entries: str) -> str:
    return "patterns:\n" + "".join(entries)


def test_users_can_add_their_own_patterns() -> None:
    text = _library(
        ENTRY.format(id="custom.payment_declined", severity="high", regex=r"\bcard declined\b")
    )
    library = load_pattern_library(text)
    assert library.match_line("Stripe: Card Declined (insufficient funds)") == (
        "custom.payment_declined",
    )
    assert library.get("custom.payment_declined") is not None
    assert library.patterns[0].severity is Severity.HIGH


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        (ENTRY.format(id="custom.bad", severity="high", regex="(unclosed"), "custom.bad"),
        (ENTRY.format(id="custom.look", severity="high", regex="a(?=b)"), "custom.look"),
        (ENTRY.format(id="custom.back", severity="high", regex=r"(a)\1"), "custom.back"),
        (ENTRY.format(id="custom.space", severity="high", regex=r"disk\sfull"), "custom.space"),
        (ENTRY.format(id="custom.neg", severity="high", regex='"[^"]+"'), "custom.neg"),
        (ENTRY.format(id="custom.empty", severity="high", regex="x*"), "custom.empty"),
        (ENTRY.format(id="custom.sev", severity="urgent", regex="x"), "unknown severity"),
        ("  - id: custom.half\n    category: c\n", "custom.half"),
    ],
)
def test_invalid_entries_fail_at_load_naming_the_pattern(entry: str, complaint: str) -> None:
    with pytest.raises(PatternLibraryError, match=complaint.replace(".", r"\.")):
        load_pattern_library(_library(entry), source="mine.yaml")


def test_a_duplicate_id_fails_at_load() -> None:
    entry = ENTRY.format(id="custom.twice", severity="low", regex="x")
    with pytest.raises(PatternLibraryError, match=r"custom\.twice"):
        load_pattern_library(_library(entry, entry))


def test_detect_patterns_counts_lines_services_and_examples(library: PatternLibrary) -> None:
    records = [
        make_record(1_000, '{"msg":"disk: No space left on device","service":"db"}', {}),
        make_record(2_000, "Read timed out", {"service_name": "api"}),
        make_record(3_000, "Read timed out", {"service_name": "worker"}),
        make_record(4_000, "connect timed out", {"service_name": "api"}),
        make_record(5_000, "all good", {"service_name": "api"}),
    ]
    hits = detect_patterns(records, library, max_examples=1)
    assert [(h.id, h.count) for h in hits] == [
        ("infrastructure.disk_full", 1),
        ("connectivity.timeout", 3),
    ]
    timeout = hits[1].to_dict()
    assert timeout["services"] == ["api", "worker"]
    assert timeout["examples"] == ["Read timed out"]
    assert timeout["first_seen"] == "1970-01-01T00:00:00.000002000Z"
    assert timeout["last_seen"] == "1970-01-01T00:00:00.000004000Z"
    assert timeout["severity"] == "medium"
    assert hits[0].examples == ("disk: No space left on device",)
    assert detect_patterns([], library) == []
