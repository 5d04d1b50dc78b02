"""The Promtail and Alloy pipelines store logs the way DESIGN.md §3 says."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.stack.design import (
    FIELDS,
    METADATA,
    ROOT,
    STREAM_LABELS,
    envsubst,
    pipeline_names,
    selector_labels,
)

METRICS = {"ai_tokens_total", "ai_operation_duration_seconds", "ai_errors_total"}


@pytest.fixture(scope="module")
def promtail() -> dict[str, Any]:
    text = (ROOT / "promtail-config.yaml").read_text()
    config: dict[str, Any] = yaml.safe_load(envsubst(text, env={}))
    return config


@pytest.fixture(scope="module")
def pipeline(promtail: dict[str, Any]) -> list[dict[str, Any]]:
    jobs = promtail["scrape_configs"]
    assert {job["job_name"] for job in jobs} == {"docker", "files"}
    stages: list[dict[str, Any]] = jobs[0]["pipeline_stages"]
    assert all(job["pipeline_stages"] == stages for job in jobs)
    return stages


def stage(stages: list[dict[str, Any]], kind: str) -> list[Any]:
    return [s[kind] for s in stages if kind in s]


def matches(stages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {m["pipeline_name"]: m for m in stage(stages, "match")}


def test_environment_expansion_gives_defaults_and_reads_the_environment() -> None:
    text = (ROOT / "promtail-config.yaml").read_text()
    config = yaml.safe_load(envsubst(text, env={"LOKI_TENANT": "acme", "AILOGS_LOG_PATH": "/l/*"}))
    assert config["clients"][0]["tenant_id"] == "acme"
    assert config["clients"][0]["url"] == "http://loki:3100/loki/api/v1/push"
    files = config["scrape_configs"][1]["static_configs"][0]["labels"]
    assert files["__path__"] == "/l/*"
    assert set(files) - {"__path__"} <= STREAM_LABELS


def test_discovery_sets_only_design_labels(promtail: dict[str, Any]) -> None:
    docker = promtail["scrape_configs"][0]
    assert docker["docker_sd_configs"][0]["host"].startswith("unix://")
    targets = {rule["target_label"] for rule in docker["relabel_configs"]}
    assert targets == {"service_name", "job", "env"}
    sources = [rule.get("source_labels", []) for rule in docker["relabel_configs"]]
    assert ["__meta_docker_container_label_com_docker_compose_service"] in sources


def test_json_stage_extracts_design_fields_only(pipeline: list[dict[str, Any]]) -> None:
    (json_stage,) = stage(pipeline, "json")
    assert set(json_stage["expressions"]) <= FIELDS
    assert {"ts", "level", "service", "event", "msg", "model", "duration_ms"} <= set(
        json_stage["expressions"]
    )
    assert "drop_malformed" not in json_stage  # non-JSON lines pass through


def test_labels_are_the_four_low_cardinality_ones(pipeline: list[dict[str, Any]]) -> None:
    (labels,) = stage(pipeline, "labels")
    assert set(labels) == {"level", "service_name"}
    assert labels["service_name"] == "service"
    (allow,) = stage(pipeline, "labelallow")
    assert set(allow) == STREAM_LABELS
    assert list(pipeline[-1]) == ["labelallow"]


def test_ids_go_to_structured_metadata(pipeline: list[dict[str, Any]]) -> None:
    (metadata,) = stage(pipeline, "structured_metadata")
    assert set(metadata) == METADATA


def test_timestamp_comes_from_ts(pipeline: list[dict[str, Any]]) -> None:
    (timestamp,) = stage(pipeline, "timestamp")
    assert timestamp == {"source": "ts", "format": "RFC3339Nano", "action_on_failure": "skip"}


def test_every_metric_is_guarded_by_a_match_and_temporary_labels_are_dropped(
    pipeline: list[dict[str, Any]],
) -> None:
    assert not stage(pipeline, "metrics"), "metrics outside a match stage"
    seen: dict[str, str] = {}
    for name, match in matches(pipeline).items():
        for metrics in stage(match["stages"], "metrics"):
            for metric, spec in metrics.items():
                full = spec["prefix"] + metric
                assert full in METRICS, name
                # Same-named counters must agree on help text or Promtail's /metrics breaks.
                assert seen.setdefault(full, spec["description"]) == spec["description"]
                source = spec["source"]
                guard = match["selector"]
                assert source in guard or full == "ai_operation_duration_seconds", guard
        added: set[str] = set()
        for labels in stage(match["stages"], "labels") + stage(match["stages"], "static_labels"):
            added |= set(labels)
        dropped = {label for drop in stage(match["stages"], "labeldrop") for label in drop}
        assert added == dropped, name
    assert set(seen) == METRICS


def test_match_selectors_use_design_labels_and_valid_regexes(
    pipeline: list[dict[str, Any]],
) -> None:
    for match in matches(pipeline).values():
        assert set(selector_labels(match["selector"])) <= STREAM_LABELS
        for pattern in re.findall(r"`([^`]*)`", match["selector"]):
            re.compile(pattern)


def test_plain_text_lines_get_a_guessed_level(pipeline: list[dict[str, Any]]) -> None:
    plain = matches(pipeline)["plain_text_level"]
    guard = re.compile(re.findall(r"`([^`]*)`", plain["selector"])[0])
    assert guard.search('{"level":"info"}')
    assert not guard.search("2026-11-20 ERROR payments: connection refused")
    (regex,) = stage(plain["stages"], "regex")
    level = re.compile(regex["expression"])
    found = level.search("2026-11-20 10:00:01 WARN pool exhausted")
    assert found is not None
    assert found.group("level") == "WARN"
    assert level.search("nothing to see") is None


def test_the_level_template_maps_every_alias_to_a_design_level(
    pipeline: list[dict[str, Any]],
) -> None:
    (template,) = [t for t in stage(pipeline, "template") if t["source"] == "level"]
    text = template["template"]
    for alias, level in {
        "warn": "warning",
        "err": "error",
        "fatal": "critical",
        "panic": "critical",
        "trace": "debug",
    }.items():
        branch = re.search(rf'eq \. [^}}]*"{alias}"[^}}]*-}}}}(\w+)', text)
        assert branch is not None, alias
        assert branch.group(1) == level
    assert text.count("info{{- end -}}") == 3  # unknown, blank and missing levels


def _alloy_strings(text: str, key: str) -> list[str]:
    values = re.findall(rf'^\s*{key}\s*=\s*"((?:[^"\\]|\\.)*)"', text, re.MULTILINE)
    return [bytes(v, "utf-8").decode("unicode_escape") for v in values]


def test_alloy_runs_the_same_pipeline(pipeline: list[dict[str, Any]]) -> None:
    text = (ROOT / "config" / "alloy" / "config.alloy").read_text()
    code = re.sub(r'"(?:[^"\\]|\\.)*"|`[^`]*`|//[^\n]*', '""', text)
    assert code.count("{") == code.count("}")
    assert code.count("[") == code.count("]")
    promtail_selectors = {m["selector"] for m in matches(pipeline).values()}
    assert set(_alloy_strings(text, "selector")) == promtail_selectors
    prefixes, names_ = _alloy_strings(text, "prefix"), _alloy_strings(text, "name")
    names = {prefix + name for prefix, name in zip(prefixes, names_, strict=True)}
    assert names == METRICS
    for needed in (
        "discovery.docker",
        "discovery.relabel",
        "loki.source.docker",
        "local.file_match",
        "loki.source.file",
        "stage.json",
        "stage.labels",
        "stage.structured_metadata",
        "stage.timestamp",
        "stage.template",
        "stage.label_keep",
        "tenant_id",
    ):
        assert needed in text, needed
    keep = re.search(r"stage\.label_keep\s*\{\s*values\s*=\s*\[([^\]]*)\]", text)
    assert keep is not None
    assert set(re.findall(r'"(\w+)"', keep.group(1))) == STREAM_LABELS
    metadata = re.search(r"stage\.structured_metadata\s*\{\s*values\s*=\s*\{([^}]*)\}", text)
    assert metadata is not None
    assert set(re.findall(r"(\w+)\s*=", metadata.group(1))) == METADATA


def test_design_logql_helpers_reject_a_bare_json_stage() -> None:
    with pytest.raises(ValueError, match="bare"):
        pipeline_names('{service_name="api"} | json | level="error"')
