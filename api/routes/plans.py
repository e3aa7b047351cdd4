"""Plans (MapIt-style generations): list, import a plan GeoPackage, publish one atomically."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile

from api.deps import ServiceDep, StoreDep, require
from api.schemas import PlanOut
from api.uploads import with_upload
from gridgis.store.files import import_plan_file

router = APIRouter(prefix="/v1/plans", tags=["plans"])


@router.get("", response_model=list[PlanOut], summary="Every plan with its status and validity period")
def list_plans(store: StoreDep) -> list[dict]:
    """Every plan with its status and validity period (times in Asia/Shanghai)."""
    return [p.as_dict() for p in store.list_plans()]


@router.get("/{name}", response_model=PlanOut, summary="One plan")
def get_plan(name: str, store: StoreDep) -> dict:
    """One plan. 404: no plan by that name (the names listed)."""
    return store.get_plan(name).as_dict()


@router.post(
    "",
    response_model=PlanOut,
    status_code=201,
    dependencies=[require("planner")],
    summary="Import a plan GeoPackage (from `gridgis partition`) as a draft (key: planner)",
)
def import_plan(
    store: StoreDep,
    name: Annotated[str, Query(description="Plan name, e.g. 2026-heshan.")],
    file: Annotated[UploadFile, File(description="Plan GeoPackage with layers grids, buildings, towns, communities.")],
) -> dict:
    """Import a plan GeoPackage as a draft. 201; 401/403: no planner key; 413: too large; 422: bad file or name
    taken."""
    info = with_upload(
        file, "plan.gpkg", lambda path: import_plan_file(store, path, name), cli="gridgis plan import PATH --name NAME"
    )
    return info.as_dict()


@router.post(
    "/{name}/publish",
    response_model=PlanOut,
    dependencies=[require("planner")],
    summary="Publish a plan: the previous one is retired with its validity period kept (key: planner)",
)
def publish_plan(name: str, service: ServiceDep) -> dict:
    """Publish a plan atomically, retiring the previous one. 401/403: no planner key; 404: no such plan."""
    info = service.store.publish_plan(name)
    service.refresh()
    return info.as_dict()
