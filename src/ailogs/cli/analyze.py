"""`ailogs analyze FILE`: the analysis engine offline over a local log file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from ailogs.analysis.correlation import Correlation
from ailogs.analysis.engine import AnalysisReport, analyze_records, correlate_worst_request
from ailogs.analysis.patterns import default_pattern_library
from ailogs.cli.base import app
from ailogs.domain import LogRecord
from ailogs.services.log_files import ReadStats, parse_timestamp, read_log_file, split_at

_ROWS = 12


@app.command("analyze")
def analyze_command(
    file: Annotated[Path, typer.Argument(help="JSON lines (DESIGN.md §3 fields) or plain text.")],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print {patterns, templates, anomalies, correlation}.")
    ] = False,
    incident_start: Annotated[
        str | None,
        typer.Option(
            help="RFC3339 or epoch time; earlier lines are the baseline"
            " (default: the first half of the file's time span)."
        ),
    ] = None,
) -> None:
    """Find patterns, new templates, anomalies and the likely root cause in a log file."""
    start_ns = None
    if incident_start is not None:
        start_ns = parse_timestamp(incident_start)
        if start_ns is None:
            _fail(f"--incident-start: not a time: {incident_start!r} (use RFC3339 or epoch)")
    try:
        log_file = read_log_file(file)
    except OSError as exc:
        _fail(f"cannot read {file}: {exc.strerror or exc}")
    split = split_at(log_file.records, start_ns)
    report = analyze_records(
        split.current,
        split.baseline,
        library=default_pattern_library(),
        current_window=split.current_window,
        baseline_window=split.baseline_window,
    )
    if json_output:
        sys.stdout.buffer.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2))
        sys.stdout.buffer.write(b"\n")
        _note_skipped(log_file.stats)
        return
    worst = correlate_worst_request(split.current)
    _print_report(file, log_file.stats, report, worst, split.current, split.baseline)


def _fail(message: str) -> None:
    sys.stderr.write(f"ailogs analyze: {message}\n")
    raise typer.Exit(code=2)


def _note_skipped(stats: ReadStats) -> None:
    notes = {k: v for k, v in stats.as_dict().items() if v and k not in ("lines", "json_lines")}
    notes.pop("text_lines", None)
    if notes:
        details = ", ".join(f"{name}={count}" for name, count in notes.items())
        sys.stderr.write(f"ailogs analyze: {details}\n")


def _print_report(
    file: Path,
    stats: ReadStats,
    report: AnalysisReport,
    worst: Correlation | None,
    current: list[LogRecord],
    baseline: list[LogRecord],
) -> None:
    console = Console(highlight=False)
    window = report.current_window.as_dict()
    console.rule(f"[bold]ailogs analyze[/] {file}")
    console.print(
        f"{stats.lines} lines ({stats.json_lines} JSON, {stats.text_lines} text;"
        f" {stats.skipped()} skipped, {stats.malformed_json} malformed JSON,"
        f" {stats.invalid_utf8} invalid UTF-8, {stats.truncated} truncated)"
    )
    console.print(
        f"baseline: {len(baseline)} lines; incident window {window['start']} → {window['end']}:"
        f" {len(current)} lines"
    )
    correlation = report.correlation
    _print_suspects(console, correlation)
    _print_anomalies(console, report)
    _print_patterns(console, report)
    _print_templates(console, report)
    if worst is not None:
        _print_worst(console, worst)
    if correlation.recommendations:
        console.rule("Recommendations")
        for advice in correlation.recommendations:
            console.print(f"• {advice}")


def _print_suspects(console: Console, correlation: Correlation) -> None:
    console.rule("Root-cause suspects")
    if not correlation.suspects:
        console.print(
            "No suspect: nothing failed, slowed or went quiet compared with the baseline."
        )
        return
    table = Table("#", "service", "score", "evidence", expand=True)
    for rank, suspect in enumerate(correlation.suspects[:5], 1):
        style = "bold red" if rank == 1 else ""
        table.add_row(
            str(rank),
            suspect.service,
            f"{suspect.score:.2f}",
            "\n".join(suspect.evidence[:3]),
            style=style,
        )
    console.print(table)
    if correlation.origin is not None:
        origin = correlation.origin.to_dict()
        where = f"{origin['service']} at {origin['timestamp']}"
        console.print(f"[bold]origin[/] {where}: {origin['message'][:200]}")
    if correlation.propagation:
        console.print("[bold]propagation[/] " + " → ".join(correlation.propagation))


def _print_anomalies(console: Console, report: AnalysisReport) -> None:
    console.rule("Anomalies")
    if not report.anomalies:
        console.print("None above the minimum-sample guard.")
        return
    table = Table("kind", "service", "observed", "baseline", "score", "detail", expand=True)
    for anomaly in report.anomalies[:_ROWS]:
        table.add_row(
            anomaly.kind.value,
            anomaly.service,
            f"{anomaly.observed:g}",
            f"{anomaly.baseline:g}",
            f"{anomaly.score:.1f}",
            anomaly.detail[:80],
        )
    console.print(table)


def _print_patterns(console: Console, report: AnalysisReport) -> None:
    console.rule("Known failure patterns")
    if not report.patterns:
        console.print("No library pattern matched.")
        return
    table = Table("pattern", "severity", "count", "services", "example", expand=True)
    for hit in report.patterns[:_ROWS]:
        data = hit.to_dict()
        examples = data.get("examples") or [""]
        table.add_row(
            str(data["id"]),
            str(data.get("severity", "")),
            str(data["count"]),
            ", ".join(data.get("services", []))[:60],
            str(examples[0])[:90],
        )
    console.print(table)


def _print_templates(console: Console, report: AnalysisReport) -> None:
    console.rule("Templates that changed")
    changed = [t for t in report.templates if t.status.value != "known"]
    if not changed:
        console.print("Every template of the window was already known.")
        return
    table = Table("status", "count", "baseline", "services", "template", expand=True)
    for stat in changed[:_ROWS]:
        table.add_row(
            stat.status.value,
            str(stat.count),
            str(stat.baseline_count),
            ", ".join(stat.services[:3]),
            stat.template[:100],
        )
    console.print(table)


def _print_worst(console: Console, worst: Correlation) -> None:
    console.rule(f"Worst request: {worst.correlation_id}")
    errors = {node.service: node.errors for node in worst.nodes}
    callees: dict[str, list[str]] = {}
    has_caller = set()
    for edge in worst.edges:
        callees.setdefault(edge.source, []).append(edge.target)
        has_caller.add(edge.target)
    roots = [node.service for node in worst.nodes if node.service not in has_caller]
    origin = worst.origin.service if worst.origin else None

    def label(service: str) -> str:
        mark = " [bold red]← origin[/]" if service == origin else ""
        colour = "red" if errors.get(service) else "green"
        return f"[{colour}]{service}[/] ({errors.get(service, 0)} errors){mark}"

    for root in roots or [n.service for n in worst.nodes[:1]]:
        tree = Tree(label(root))
        stack = [(root, tree, {root})]
        while stack:
            service, branch, path = stack.pop()
            for callee in sorted(callees.get(service, [])):
                if callee not in path:
                    stack.append((callee, branch.add(label(callee)), path | {callee}))
        console.print(tree)
    if worst.origin is not None:
        console.print(f"origin message: {worst.origin.message[:200]}")
