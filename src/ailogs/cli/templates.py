"""`ailogs templates`: stdin lines in, `TEMPLATE_ID<TAB>TEMPLATE` per line out."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import BinaryIO

import typer

from ailogs.analysis.templates import DEFAULT_SIMILARITY, mine_templates
from ailogs.cli.base import app


def read_lines(stream: BinaryIO) -> Iterator[str]:
    """Decode lines as UTF-8 (bad bytes replaced), stripping only the line ending."""
    for raw in stream:
        if raw.endswith(b"\n"):
            raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
        yield raw.decode("utf-8", errors="replace")


@app.command("templates")
def templates_command(
    similarity: float = typer.Option(
        DEFAULT_SIMILARITY, min=0.0, max=1.0, help="Share of tokens that must agree to merge."
    ),
) -> None:
    """Mine templates from log lines on stdin; print TEMPLATE_ID<TAB>TEMPLATE per line."""
    results = mine_templates(read_lines(sys.stdin.buffer), similarity=similarity)
    out = sys.stdout
    batch: list[str] = []
    for template_id, template in results:
        batch.append(f"{template_id}\t{template}\n")
        if len(batch) >= 8192:
            out.write("".join(batch))
            batch.clear()
    out.write("".join(batch))
    out.flush()
