"""The shared Typer app and the settings loader every command uses."""

from __future__ import annotations

import sys

import typer

from ailogs.errors import SettingsError
from ailogs.settings import Settings, load_settings

app = typer.Typer(
    name="ailogs",
    help="Log intelligence for AI agents, in front of Grafana Loki.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def settings_or_exit() -> Settings:
    """Load settings, or print one line naming the bad variable and exit 2."""
    try:
        return load_settings()
    except SettingsError as exc:
        sys.stderr.write(f"ailogs: {exc}\n")
        raise typer.Exit(code=2) from None
