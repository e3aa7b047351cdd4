"""The gridgis web service: ``create_app(settings)`` builds it; ``app`` is what uvicorn runs.

The routers are listed in :data:`ROUTERS`, in the order they are mounted. The app's lifespan creates
the worker's :class:`gridgis.service.Service` (store, plan snapshot and its poller, case tables,
escalation job), starts it and stops it at shutdown. See ``api.deps`` for what a router gets.
"""

from __future__ import annotations

import gc
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api import errors, openapi
from api.deps import Console, make_service
from api.inputs import check_request
from api.middleware import BodyLimit, Metrics
from api.routes import (
    addresses,
    cases,
    console,
    docs,
    grids,
    health,
    keys,
    layers,
    locate,
    maps,
    ogc,
    open311,
    plans,
    staff,
    tiles,
    workbench,
)
from api.settings import Settings
from gridgis import __version__
from gridgis.store import Store

#: the routers, in the order they are mounted. A request is matched against the routes one by one in this
#: order, so the busiest (locate, case intake) come first; no two routers' paths overlap.
ROUTERS = [
    health.router,
    locate.router,
    cases.router,
    grids.router,
    staff.router,
    plans.router,
    workbench.router,
    workbench.page_router,
    layers.router,
    keys.router,
    ogc.router,
    tiles.router,
    open311.router,
    open311.discovery_router,
    addresses.router,
    maps.router,
    console.router,
    docs.router,
]


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> FastAPI:
    """Build the service for ``settings`` (default: from the GRIDGIS_* environment).

    ``store``: an open store to serve (left open at stop); default: opened from ``settings.database_url``.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service = make_service(settings, store)
        app.state.gridgis = service
        app.state.console = Console(service, settings.upload_dir)
        service.start()
        # the start-up objects (libraries, the first snapshot) live as long as the worker: keep them out of
        # the garbage collector's full passes, which otherwise stall requests (p99)
        gc.freeze()
        try:
            yield
        finally:
            tiles.stop_warming(service.store)  # before the store closes
            service.stop()

    app = FastAPI(
        title="gridgis",
        version=__version__,
        summary="Point-in-grid, grids, plans, staff, layers and OGC API - Features for grid management.",
        lifespan=lifespan,
        dependencies=[Depends(check_request)],
        docs_url=None,  # served offline by api.routes.docs
        redoc_url=None,
        # metrics go to Prometheus (/metrics); FastAPI's built-in OpenTelemetry hooks would cost every request
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.settings = settings
    errors.install(app)
    openapi.install(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(locate.LocateFastPath)  # innermost: the body limit, CORS and metrics wrap it
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    origins = settings.cors_origin_list()
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS"],
            allow_headers=["X-API-Key", "Authorization", "Content-Type", "Idempotency-Key"],
            expose_headers=["Location", "Idempotent-Replayed", "Content-Crs"],
            max_age=600,
        )
    app.add_middleware(Metrics)
    app.add_middleware(errors.CatchAll)  # outermost: nothing escapes as a dropped connection
    return app


app = create_app()
