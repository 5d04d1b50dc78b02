"""`ailogs serve`: run the HTTP API."""

from __future__ import annotations

from typing import Annotated

import typer

from ailogs.cli.base import app, settings_or_exit
from ailogs.cli.keys import refuse_open_public_bind


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default AILOGS_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Bind port (default AILOGS_PORT).")] = None,
) -> None:
    """Serve the ailogs API."""
    import uvicorn

    from ailogs.api.app import create_app
    from ailogs.collector import tune_for_service

    settings = settings_or_exit()
    update: dict[str, object] = {}
    if host is not None:
        update["host"] = host
    if port is not None:
        update["port"] = port
    settings = settings.model_copy(update=update)
    refuse_open_public_bind(settings)
    app_ = create_app(settings)
    tune_for_service()
    uvicorn.run(
        app_,
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=False,
    )
