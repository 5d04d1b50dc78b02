"""Each mode builds exactly the LogQL it should, whatever the user typed."""

from __future__ import annotations

import pytest

from ailogs.domain import Direction, Mode, QuerySpec, TimeWindow
from ailogs.logql import all_lines_query, build_plan, selector_for

HOUR = TimeWindow(0, 3600 * 10**9)
ERR = '"(?i)error|err|critical|crit|fatal|panic|alert|emerg|emergency"'
WARN = '"(?i)warn|warning|error|err|critical|crit|fatal|panic|alert|emerg|emergency"'


def spec(mode: Mode = Mode.ERRORS, **kwargs: object) -> QuerySpec:
    return QuerySpec(mode=mode, window=HOUR, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("services", "selector"),
    [
        ((), '{service_name=~".+"}'),
        (("api",), '{service_name="api"}'),
        (("auth.v2",), '{service_name="auth.v2"}'),
        (("auth.v2", "api"), r'{service_name=~"api|auth\\.v2"}'),
        ((".+",), '{service_name=".+"}'),
        ((".+", "x"), r'{service_name=~"\\.\\+|x"}'),
        (('a"}',), r'{service_name="a\"}"}'),
        (('a"}', "b|c"), r'{service_name=~"a\"\\}|b\\|c"}'),
        (("back\\slash",), r'{service_name="back\\slash"}'),
        (("back\\slash", "x"), r'{service_name=~"back\\\\slash|x"}'),
        (("`tick`",), '{service_name="`tick`"}'),
        (("new\nline",), r'{service_name="new\nline"}'),
    ],
)
def test_selector_escapes_every_service_name(services: tuple[str, ...], selector: str) -> None:
    assert selector_for(services) == selector


def test_a_selector_never_matches_the_empty_name() -> None:
    with pytest.raises(ValueError, match="empty"):
        selector_for(("api", ""))


def test_errors_mode_selects_error_levels_by_stream_label() -> None:
    plan = build_plan(spec(Mode.ERRORS, services=("api",)))
    assert plan.log_query == f'{{service_name="api", level=~{ERR}}}'


def test_metadata_filters_follow_the_selector_and_search_is_a_line_filter() -> None:
    plan = build_plan(
        spec(
            Mode.ERRORS,
            workspace_id='ws"1',
            conversation_id="cv|1",
            correlation_id="req-1",
            model="gpt-4o",
            search='say "hi" \\ |= "x"',
        )
    )
    assert plan.log_query == (
        f'{{service_name=~".+", level=~{ERR}}}'
        r' | workspace_id="ws\"1" | conversation_id="cv|1" | correlation_id="req-1"'
        r' | model="gpt-4o" |= "say \"hi\" \\ |= \"x\""'
    )


def test_troubleshoot_without_patterns_is_warnings_and_errors() -> None:
    assert build_plan(spec(Mode.TROUBLESHOOT)).log_query == f'{{service_name=~".+", level=~{WARN}}}'


def test_troubleshoot_adds_pattern_hits_at_any_level() -> None:
    plan = build_plan(spec(Mode.TROUBLESHOOT, services=("api",)), pattern_regex=r"(?i)time\s?out")
    assert plan.log_query == (
        r'{service_name="api"} | regexp "(?P<ailogs_pattern>(?i)time\\s?out)"'
        f' | level=~{WARN} or ailogs_pattern!=""'
    )


def test_audit_mode_matches_the_documented_event_families() -> None:
    plan = build_plan(spec(Mode.AUDIT, services=("api",)))
    assert plan.log_query == (
        '{service_name="api"} | json event | event=~"audit.*|config.*|auth.*"'
    )


def test_conversation_mode_filters_on_metadata() -> None:
    plan = build_plan(spec(Mode.CONVERSATION, conversation_id="cv-1", direction=Direction.FORWARD))
    assert plan.log_query == '{service_name=~".+"} | conversation_id="cv-1"'


def test_conversation_mode_requires_an_id() -> None:
    with pytest.raises(ValueError, match="conversation_id"):
        build_plan(spec(Mode.CONVERSATION))


def test_performance_mode_keeps_lines_with_duration_and_builds_quantiles() -> None:
    plan = build_plan(spec(Mode.PERFORMANCE, services=("api",)))
    carrying = '{service_name="api"} | json duration_ms | __error__="" | duration_ms!=""'
    assert plan.log_query == carrying
    assert [q for q, _ in plan.quantile_queries] == [0.5, 0.95, 0.99]
    assert plan.quantile_queries[1][1] == (
        f"quantile_over_time(0.95, {carrying} | unwrap duration_ms"
        ' | __error__="" [3600s]) by (service_name)'
    )


@pytest.mark.parametrize(
    "hostile",
    ['"}', '"} |= "', "`", "\\", '\\"', "|", ".+", "\n", "\r\n", '{job=~".+"}', "\x00"],
)
@pytest.mark.parametrize("mode", list(Mode))
def test_no_value_can_close_a_string_early(mode: Mode, hostile: str) -> None:
    plan = build_plan(
        spec(
            mode,
            services=(hostile,),
            workspace_id=hostile,
            conversation_id=hostile,
            search=hostile,
        )
    )
    # Every double quote in the query is either escaped or one of the builder's own.
    unescaped = plan.log_query.replace("\\\\", "").replace('\\"', "")
    assert "\n" not in plan.log_query
    builder_quotes = build_plan(
        spec(mode, services=("s",), workspace_id="w", conversation_id="c", search="q")
    ).log_query.count('"')
    assert unescaped.count('"') == builder_quotes


def test_all_lines_query_keeps_only_the_filters() -> None:
    query = all_lines_query(spec(Mode.ERRORS, services=("api",), correlation_id="r-1", search="x"))
    assert query == '{service_name="api"} | correlation_id="r-1" |= "x"'
