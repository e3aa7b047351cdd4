"""Liveness and Prometheus metrics."""

from __future__ import annotations

import os

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from api.deps import ServiceDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the store answers and which plan is loaded")
def healthz(service: ServiceDep) -> dict:
    """Liveness: the store's kind and revision, the loaded plan and its grid count. 503: the store is
    unreachable."""
    snap = service.snapshot
    return {
        "status": "ok",
        "store": service.store.kind,
        "revision": service.store.revision(),
        "plan": snap.plan.name if snap else None,
        "grids": len(snap.grids) if snap else 0,
    }


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics() -> Response:
    """Prometheus metrics (merged across workers when PROMETHEUS_MULTIPROC_DIR is set)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # several uvicorn workers: merge their files
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
