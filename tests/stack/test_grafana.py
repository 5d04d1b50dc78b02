"""Grafana provisioning and dashboards agree with each other and with DESIGN.md §3."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.stack.design import (
    FIELDS,
    METADATA,
    ROOT,
    STREAM_LABELS,
    pipeline_names,
    selector_labels,
)

DASHBOARDS = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
EXPECTED_UIDS = {"ailogs-ai-operations", "ailogs-log-troubleshooting", "ailogs-health"}
# Metrics of ailogs' own /metrics the health dashboard reads. The first three are
# defined in src/ailogs/api/metrics.py; the rest are the agreed names for the cache,
# ingest and stream engineers, plus the pipeline counter from Promtail/Alloy.
FOUNDATION_METRICS = {
    "ailogs_http_request_duration_seconds",
    "ailogs_loki_request_duration_seconds",
    "ailogs_errors_total",
}
AGREED_METRICS = {
    "ailogs_cache_requests_total",
    "ailogs_ingest_lag_seconds",
    "ailogs_stream_subscribers",
    "ai_tokens_total",
}


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def targets(kind: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in DASHBOARDS:
        for panel in panels(load(path)):
            for target in panel.get("targets", []):
                if target.get("datasource", panel["datasource"])["type"] == kind:
                    out.append((f"{path.name}: {panel['title']}", target))
    return out


@pytest.fixture(scope="module")
def datasources() -> dict[str, dict[str, Any]]:
    files = sorted((ROOT / "grafana" / "provisioning" / "datasources").glob("*.yaml"))
    found: dict[str, dict[str, Any]] = {}
    for path in files:
        for source in yaml.safe_load(path.read_text())["datasources"]:
            assert source["uid"] not in found
            found[source["uid"]] = source
    return found


def test_datasources_are_loki_with_tenant_postgres_and_prometheus(
    datasources: dict[str, dict[str, Any]],
) -> None:
    assert set(datasources) == {"loki", "postgres", "prometheus"}
    loki = datasources["loki"]
    assert loki["jsonData"]["httpHeaderName1"] == "X-Scope-OrgID"
    assert loki["secureJsonData"]["httpHeaderValue1"] == "${LOKI_TENANT}"
    postgres = datasources["postgres"]
    assert postgres["type"] == "grafana-postgresql-datasource"
    assert postgres["jsonData"]["database"]
    assert postgres["secureJsonData"]["password"].startswith("${")
    assert datasources["prometheus"]["type"] == "prometheus"


def test_dashboard_provider_points_at_the_mounted_folder() -> None:
    path = ROOT / "grafana" / "provisioning" / "dashboards" / "ailogs.yaml"
    (provider,) = yaml.safe_load(path.read_text())["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_three_dashboards_with_stable_unique_uids() -> None:
    uids = [load(path)["uid"] for path in DASHBOARDS]
    assert sorted(uids) == sorted(EXPECTED_UIDS)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_panels_have_unique_ids_and_provisioned_datasources(
    path: Path, datasources: dict[str, dict[str, Any]]
) -> None:
    dashboard = load(path)
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard):
        uid = panel["datasource"]["uid"]
        assert uid in datasources, panel["title"]
        assert panel["datasource"]["type"] == datasources[uid]["type"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs))
        for target in panel["targets"]:
            assert target.get("datasource", panel["datasource"])["uid"] == uid
    for variable in dashboard["templating"]["list"]:
        if "datasource" in variable:
            assert variable["datasource"]["uid"] in datasources


def test_template_variables_cover_workspace_service_and_model() -> None:
    names = {v["name"] for path in DASHBOARDS for v in load(path)["templating"]["list"]}
    assert {"workspace", "service", "model"} <= names


@pytest.mark.parametrize(("where", "target"), targets("loki"), ids=lambda v: str(v)[:60])
def test_logql_uses_only_design_labels_metadata_and_fields(
    where: str, target: dict[str, Any]
) -> None:
    expr = target["expr"]
    assert set(selector_labels(expr)) <= STREAM_LABELS, where
    names = pipeline_names(expr)
    assert names["json"] <= FIELDS, where
    allowed = STREAM_LABELS | METADATA | names["json"] | {"__error__"}
    assert names["filters"] <= allowed, where
    assert names["unwrap"] <= names["json"], where
    assert names["by"] <= STREAM_LABELS | METADATA | names["json"], where


def test_the_live_error_stream_is_a_log_query_on_error_levels() -> None:
    dashboard = load(ROOT / "grafana" / "dashboards" / "log-troubleshooting.json")
    (stream,) = [p for p in panels(dashboard) if p["type"] == "logs"]
    expr = stream["targets"][0]["expr"]
    assert expr.startswith('{service_name=~"$service", level=~"error|critical"}')


def test_health_dashboard_reads_the_agreed_metric_names() -> None:
    metric = re.compile(r"\b(ai(?:logs)?_[a-z_]+?)(?:_bucket|_count|_sum)?(?=[\[{ )])")
    used: set[str] = set()
    for _, target in targets("prometheus"):
        used |= set(metric.findall(target["expr"]))
    assert used == FOUNDATION_METRICS | AGREED_METRICS
    source = (ROOT / "src" / "ailogs" / "api" / "metrics.py").read_text()
    for name in FOUNDATION_METRICS:
        assert f'"{name}"' in source, f"{name} is no longer exported by the API"
