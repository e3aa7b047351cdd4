"""``gridgis serve``: run the web service (FastAPI on uvicorn)."""

from __future__ import annotations

import os
import tempfile

import click

from gridgis.cli.options import db_opt


@click.command("serve")
@db_opt
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="uvicorn worker processes.")
@click.option("--log-level", default="info", show_default=True)
def cli(db: str | None, host: str, port: int, workers: int, log_level: str) -> None:
    """Serve locate, grids, plans, staff, layers and OGC API - Features (docs at /docs)."""
    import uvicorn

    from gridgis.errors import GridgisError
    from gridgis.store import DEFAULT_URL, open_store

    url = db or DEFAULT_URL
    os.environ["GRIDGIS_DATABASE_URL"] = url
    store = open_store(url)  # create/migrate once, before the workers start
    if not store.list_keys() and not os.environ.get("GRIDGIS_API_KEYS"):
        click.echo("No API keys yet; writes need one. Create one with: gridgis key create --role planner", err=True)
    try:
        store.get_plan(None)
    except GridgisError as exc:
        click.echo(f"Note: {exc}", err=True)
    store.close()
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gridgis-metrics-")
    click.echo(f"Serving {url} on http://{host}:{port} (docs: /docs, OGC API: /ogc)", err=True)
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
        http="httptools",
        loop="uvloop",
    )
