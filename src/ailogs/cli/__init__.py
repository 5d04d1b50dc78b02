"""The `ailogs` command line: one Typer app, one module per command group.

Each command module imports `app` from `ailogs.cli.base` and decorates its
functions; importing the module below registers them.
"""

from __future__ import annotations

from ailogs.cli import analyze, keys, mcp, serve, simulate, store, templates
from ailogs.cli.base import app

__all__ = ["analyze", "app", "keys", "main", "mcp", "serve", "simulate", "store", "templates"]


def main() -> None:
    """Entry point of the `ailogs` console script."""
    app()
