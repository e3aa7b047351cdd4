"""The gridgis web service: ``create_app(settings)`` builds it; ``app`` is what uvicorn runs.

Routers are listed in :data:`ROUTERS` (module paths under ``api.routes``, each with a
``router``); a component needing setup (its own tables) adds a ``startup(state)``
function to its module, called once per worker at start, and may add a
``shutdown(state)`` (stop its threads, close its connections), called at stop in
reverse order, before the store closes. See ``api.deps`` for what a router gets
(store, snapshot, locator, caller).
"""

from __future__ import annotations

import gc
import importlib
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.deps import ServiceState
from api.middleware import BodyLimit, Metrics
from api.settings import Settings
from gridgis import __version__

log = logging.getLogger("gridgis.api")

#: router modules under api.routes, in the order they are mounted (optional ones are skipped when absent)
ROUTERS = ["health", "locate", "grids", "staff", "plans", "layers", "keys", "ogc"]
OPTIONAL_ROUTERS = ["cases", "open311", "maps"]


def _modules():
    for name in ROUTERS + OPTIONAL_ROUTERS:
        try:
            yield importlib.import_module(f"api.routes.{name}")
        except ModuleNotFoundError as exc:
            if name in OPTIONAL_ROUTERS and exc.name == f"api.routes.{name}":
                continue
            raise


def create_app(settings: Settings | None = None, *, state: ServiceState | None = None) -> FastAPI:
    """Build the service for ``settings`` (default: from the GRIDGIS_* environment)."""
    settings = settings or Settings()
    modules = list(_modules())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service = state or ServiceState(settings)
        app.state.gridgis = service
        for module in modules:
            if hasattr(module, "startup"):
                module.startup(service)
        service.start()
        # the start-up objects (libraries, the first snapshot) live as long as the worker: keep them out of
        # the garbage collector's full passes, which otherwise stall requests (p99)
        gc.freeze()
        try:
            yield
        finally:
            for module in reversed(modules):
                if hasattr(module, "shutdown"):
                    try:
                        module.shutdown(service)
                    except Exception:  # the other components and the store still stop
                        log.exception("shutdown of %s failed", module.__name__)
            service.stop()

    app = FastAPI(
        title="gridgis",
        version=__version__,
        summary="Point-in-grid, grids, plans, staff, layers and OGC API - Features for grid management.",
        lifespan=lifespan,
        # metrics go to Prometheus (/metrics); FastAPI's built-in OpenTelemetry hooks would cost every request
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.settings = settings
    errors.install(app)
    for module in modules:
        app.include_router(module.router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(Metrics)
    return app


app = create_app()
