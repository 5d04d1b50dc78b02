"""docker-compose.yml, Loki and Prometheus configs are consistent (no Docker needed)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.stack.design import ROOT


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def test_every_service_of_the_stack_is_there(compose: dict[str, Any]) -> None:
    assert {
        "loki",
        "promtail",
        "alloy",
        "grafana",
        "prometheus",
        "redis",
        "postgres",
        "ailogs",
        "simulator",
    } <= set(compose["services"])
    assert compose["services"]["alloy"]["profiles"] == ["alloy"]


def test_depends_on_targets_exist_and_every_service_has_a_healthcheck(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name, service in services.items():
        assert set(service.get("depends_on", {})) <= set(services), name
        assert service["healthcheck"]["test"], name
        for target, condition in service.get("depends_on", {}).items():
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[target], target


def test_named_volumes_are_declared_and_bind_mounts_exist(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used: set[str] = set()
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name}: {source}"
            elif not source.startswith("/"):
                used.add(source)
    assert used == declared


def test_published_ports_do_not_collide(compose: dict[str, Any]) -> None:
    published = [
        port.split(":")[0] for s in compose["services"].values() for port in s.get("ports", [])
    ]
    assert len(published) == len(set(published))


def test_no_secret_is_written_in_the_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for match in re.finditer(r"(?im)^\s*([A-Z_]*(?:PASSWORD|SECRET|TOKEN)[A-Z_]*):\s*(.+)$", text):
        assert match.group(2).strip().startswith("${"), match.group(0)
    assert "${POSTGRES_PASSWORD:?" in text
    assert "${GRAFANA_ADMIN_PASSWORD:?" in text


def test_env_example_lists_every_variable_compose_reads() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    wanted = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"(?m)^([A-Z_][A-Z0-9_]*)=", example))
    assert wanted <= listed
    assert re.search(r"(?m)^POSTGRES_PASSWORD=$", example)  # no real secret shipped


def test_ailogs_migrates_on_start_and_the_simulator_pushes_to_loki(
    compose: dict[str, Any],
) -> None:
    api = compose["services"]["ailogs"]
    assert api["environment"]["AILOGS_DATABASE_MIGRATE_ON_START"] == "true"
    assert api["environment"]["AILOGS_DATABASE_URL"].startswith("postgresql+asyncpg://")
    simulator = compose["services"]["simulator"]
    assert simulator["command"][0] == "simulate"
    assert "--loki-url=http://loki:3100" in simulator["command"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip wheel" in dockerfile
    # The wheel build runs the native build hook, which must be in the context.
    assert "hatch_build.py" in dockerfile
    assert 'ENTRYPOINT ["ailogs"]' in dockerfile


def test_loki_is_multi_tenant_v13_tsdb_with_metadata_patterns_volume_and_retention() -> None:
    loki = yaml.safe_load((ROOT / "config" / "loki.yaml").read_text())
    assert loki["auth_enabled"] is True
    (schema,) = loki["schema_config"]["configs"]
    assert (schema["schema"], schema["store"], schema["object_store"]) == (
        "v13",
        "tsdb",
        "filesystem",
    )
    limits = loki["limits_config"]
    assert limits["allow_structured_metadata"] is True
    assert limits["volume_enabled"] is True
    assert limits["max_entries_limit_per_query"] == 5000
    assert limits["retention_period"]
    assert loki["pattern_ingester"]["enabled"] is True
    compactor = loki["compactor"]
    assert compactor["retention_enabled"] is True
    assert compactor["delete_request_store"] == "filesystem"


def test_prometheus_scrapes_ailogs_and_the_log_agents() -> None:
    prometheus = yaml.safe_load((ROOT / "config" / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in prometheus["scrape_configs"]
    }
    assert targets["ailogs"] == ["ailogs:8000"]
    assert targets["promtail"] == ["promtail:9080"]
    assert targets["alloy"] == ["alloy:12345"]
