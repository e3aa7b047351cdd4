"""``gridgis serve``: run the web service (FastAPI on uvicorn).

With ``--workers N`` (N > 1) on Linux every worker process listens on a socket of its own bound to the one
port with ``SO_REUSEPORT``, so the kernel spreads new connections evenly over the workers. uvicorn's own
workers share one listening socket, and whichever wakes first accepts a whole burst: 32 keep-alive clients
opening at once were seen split 32/0, 30/2 and 26/6 over 2 workers, leaving one core idle.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time

import click

from gridgis.cli.options import db_opt
from gridgis.errors import GridgisError, InputError


@click.command("serve")
@db_opt
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="worker processes: one per core (docs/intake.md).",
)
@click.option("--log-level", default="info", show_default=True)
def cli(db: str | None, host: str, port: int, workers: int, log_level: str) -> None:
    """Serve locate, grids, plans, staff, layers and OGC API - Features (docs at /docs)."""
    import uvicorn

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
    if port:  # before anything claims to serve: a server already listening there, even a gridgis serve
        _check_free(host, port)
    metrics = None
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        metrics = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="gridgis-metrics-")
    click.echo(f"Serving {url} on http://{host}:{port} (docs: /docs, OGC API: /ogc)", err=True)
    options = {
        "app": "api.main:create_app",
        "factory": True,
        "host": host,
        "port": port,
        "log_level": log_level,
        "access_log": False,
        "http": "httptools",
        "loop": "uvloop",
    }
    try:
        if workers > 1 and hasattr(socket, "SO_REUSEPORT"):
            run_workers(options, workers)
        else:
            uvicorn.run(**options, workers=workers)
    finally:
        if metrics is not None:  # the multiprocess metrics' files live as long as this server
            shutil.rmtree(metrics, ignore_errors=True)


def _check_free(host: str, port: int) -> None:
    """Raise :class:`~gridgis.errors.InputError` when ``host:port`` cannot be listened on (taken, or not ours)."""
    _bound(host, port, shared=False).close()


def _bound(host: str, port: int, *, shared: bool) -> socket.socket:
    """:func:`listening_socket`, its OSError as the one-line :class:`~gridgis.errors.InputError` of the CLI."""
    try:
        return listening_socket(host, port, shared=shared)
    except OSError as exc:
        raise InputError(f"Cannot listen on {host}:{port}: {exc}.", fix="choose another --port or --host.") from None


#: a worker that ends within this many seconds of its start failed to start: the service stops (exit 1)
START_SECONDS = 10.0


def listening_socket(host: str, port: int, *, shared: bool = True) -> socket.socket:
    """A TCP socket bound to ``host:port``, with ``SO_REUSEPORT`` when ``shared`` (each worker binds one; the
    kernel spreads new connections over them). Raises OSError when the port is taken."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def run_workers(options: dict, workers: int) -> None:
    """Run ``workers`` uvicorn servers of ``options`` (:class:`uvicorn.Config` keywords) in spawned processes, each
    on its own :func:`listening_socket`; replace one that dies; stop them all on SIGINT/SIGTERM.

    Raises :class:`~gridgis.errors.InputError` when the port cannot be bound, :class:`~gridgis.errors.GridgisError`
    when a worker ends within :data:`START_SECONDS` of its start (the others are stopped)."""
    hold = _bound(options["host"], options["port"], shared=True)  # keeps the port while workers come and go
    options = {**options, "port": hold.getsockname()[1]}  # --port 0: the port the system chose, for every worker
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    context = multiprocessing.get_context("spawn")

    def start() -> tuple[multiprocessing.process.BaseProcess, float]:
        process = context.Process(target=_serve_one, args=(options,), name="gridgis-worker")
        process.start()
        return process, time.monotonic()

    running = [start() for _ in range(workers)]
    failed = None
    try:
        while not stop.wait(0.5):
            for i, (process, started) in enumerate(running):
                if process.exitcode is None:
                    continue
                if time.monotonic() - started < START_SECONDS:
                    failed = process.exitcode
                    stop.set()
                    break
                click.echo(f"A worker ended (exit code {process.exitcode}); starting another.", err=True)
                running[i] = start()
    finally:
        for process, _ in running:
            if process.is_alive():
                process.terminate()  # uvicorn's graceful shutdown
        for process, _ in running:
            process.join(30)
            if process.is_alive():
                process.kill()
        hold.close()
    if failed is not None:
        raise GridgisError(
            f"A worker of gridgis serve ended as it started (exit code {failed}); the others were stopped.",
            fix="read the worker's error above; gridgis serve --workers 1 shows it alone.",
        )


def _serve_one(options: dict) -> None:
    """One worker process: uvicorn on a listening socket of its own; it stops (SIGTERM to itself) when the
    process that started it is gone, so a killed ``gridgis serve`` leaves no worker holding the port."""
    import uvicorn

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="gridgis-parent-watch", daemon=True).start()
    sock = listening_socket(options["host"], options["port"])
    uvicorn.Server(uvicorn.Config(**options)).run(sockets=[sock])
