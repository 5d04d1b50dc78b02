"""Mermaid text of a service graph, safe for any service name."""

from __future__ import annotations

from ailogs.analysis.graph import GraphFacts

_ESCAPES = {
    '"': "#quot;",
    "<": "#lt;",
    ">": "#gt;",
    "&": "#amp;",
    "#": "#35;",
    "|": "#124;",
    "`": "#96;",
    "[": "#91;",
    "]": "#93;",
    "{": "#123;",
    "}": "#125;",
}


def escape_label(text: str) -> str:
    """Make text safe inside a quoted Mermaid label (entity codes, one line)."""
    flat = " ".join(text.split())[:120]
    return "".join(_ESCAPES.get(char, char) for char in flat)


def render_mermaid(facts: GraphFacts, origin: str | None = None) -> str:
    """`flowchart LR` text: one node per service, erroring nodes red, the origin bold."""
    ids = {node.service: f"n{index}" for index, node in enumerate(facts.nodes)}
    lines = ["flowchart LR"]
    for node in facts.nodes:
        parts = [escape_label(node.service), f"{node.events} events, {node.errors} errors"]
        if node.p95_ms is not None:
            parts.append(f"p95 {node.p95_ms:.0f} ms")
        label = "<br/>".join(parts)
        lines.append(f'    {ids[node.service]}["{label}"]')
    for edge in facts.edges:
        text = f"{edge.calls} calls" + (f", {edge.errors} failed" if edge.errors else "")
        arrow = "-.->" if edge.errors else "-->"
        lines.append(f'    {ids[edge.source]} {arrow}|"{text}"| {ids[edge.target]}')
    lines.append("    classDef error fill:#fde2e2,stroke:#c62828,color:#000")
    lines.append("    classDef origin fill:#c62828,stroke:#7f0000,color:#fff,stroke-width:3px")
    failing = [ids[s] for s in sorted(facts.erroring) if s in ids and s != origin]
    if failing:
        lines.append(f"    class {','.join(failing)} error")
    if origin is not None and origin in ids:
        lines.append(f"    class {ids[origin]} origin")
    return "\n".join(lines) + "\n"
