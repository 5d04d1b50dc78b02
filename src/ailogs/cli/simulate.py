"""`ailogs simulate`: realistic multi-service traffic into Loki or a JSON-lines file."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import Annotated

import httpx
import typer

from ailogs.cli.base import app
from ailogs.domain import NS_PER_SECOND
from ailogs.simulator import IncidentPlan, SimulationConfig, generate
from ailogs.simulator.sinks import (
    JsonLinesSink,
    LokiPushSink,
    RunStats,
    SimulatorPushError,
    Sink,
    run,
)


def _parse_start(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter("use RFC3339, e.g. 2026-11-20T10:00:00Z") from None
    if stamp.tzinfo is None:
        raise typer.BadParameter("the start time needs a zone, e.g. a trailing Z")
    return int(stamp.timestamp()) * NS_PER_SECOND + stamp.microsecond * 1000


@app.command()
def simulate(
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="Write JSON lines to this file (`-` for stdout)."),
    ] = None,
    loki_url: Annotated[
        str | None,
        typer.Option(help="Push to this Loki (e.g. http://loki:3100) instead of a file."),
    ] = None,
    tenant: Annotated[
        str | None, typer.Option(help="X-Scope-OrgID tenant for the Loki push.")
    ] = None,
    rate: Annotated[float, typer.Option(min=0.01, help="Requests per second.")] = 5.0,
    duration: Annotated[
        float, typer.Option(min=0, help="Seconds of traffic; 0 runs until interrupted.")
    ] = 600.0,
    seed: Annotated[int, typer.Option(help="Random seed; same seed and start, same output.")] = 42,
    start: Annotated[
        str | None, typer.Option(help="Fixed start time (RFC3339); default now.")
    ] = None,
    anomaly_ratio: Annotated[
        float, typer.Option(min=0, max=1, help="Share of hops that misbehave.")
    ] = 0.15,
    incident_service: Annotated[
        str, typer.Option(help="The dependency that fails during incidents.")
    ] = "payments",
    incident_at: Annotated[
        float | None,
        typer.Option(help="Seconds from start until the incident (default: half the run)."),
    ] = None,
    incident_length: Annotated[float, typer.Option(min=0, help="Incident length, s.")] = 120.0,
    incident_every: Annotated[
        float, typer.Option(min=0, help="Repeat the incident every N s (0: once).")
    ] = 0.0,
    no_incident: Annotated[bool, typer.Option(help="Simulate without an incident.")] = False,
    realtime: Annotated[
        bool | None,
        typer.Option(help="Pace lines on the wall clock (default: on for Loki, off for files)."),
    ] = None,
    env: Annotated[str, typer.Option(help="The `env` stream label.")] = "dev",
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Lines per push.")] = 500,
) -> None:
    """Generate traffic across several services, with anomalies and a cascading incident."""
    if (output is None) == (loki_url is None):
        raise typer.BadParameter("give exactly one of --output or --loki-url")
    start_ns = _parse_start(start) or time.time_ns()
    run_s = duration or None
    offset = incident_at if incident_at is not None else (run_s / 2 if run_s else 300.0)
    incident = None
    if not no_incident:
        incident = IncidentPlan(
            service=incident_service,
            offset_s=offset,
            length_s=incident_length,
            every_s=incident_every or None,
        )
    config = SimulationConfig(
        start_ns=start_ns,
        seed=seed,
        rate=rate,
        duration_s=run_s,
        anomaly_ratio=anomaly_ratio,
        incident=incident,
    )
    pace = realtime if realtime is not None else loki_url is not None
    with httpx.Client(timeout=httpx.Timeout(10.0, connect=3.0)) as client:
        sink: Sink
        if loki_url is not None:
            sink = LokiPushSink(client, url=loki_url, tenant=tenant, env=env)
        else:
            sink = JsonLinesSink(output or "-")
        try:
            stats = run(generate(config), sink, batch_size=batch_size, realtime=pace)
        except SimulatorPushError as exc:
            sys.stderr.write(f"ailogs simulate: {exc}\n")
            raise typer.Exit(code=1) from None
        except KeyboardInterrupt:
            raise typer.Exit(code=130) from None
    _report(stats)


def _report(stats: RunStats) -> None:
    levels = ", ".join(f"{level}={count}" for level, count in sorted(stats.by_level.items()))
    share = stats.anomalous / stats.lines if stats.lines else 0.0
    sys.stderr.write(
        f"ailogs simulate: {stats.lines} lines in {stats.batches} batches "
        f"({share:.0%} anomalous; {levels})\n"
    )
