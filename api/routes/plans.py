"""Plans (MapIt-style generations): list, import a plan GeoPackage, publish one atomically."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, File, Query, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CallerDep, ServiceDep, StoreDep, require
from api.schemas import PlanOut
from api.uploads import with_upload
from gridgis.store.files import import_plan_file
from gridgis.store.replan import publish, unattached

router = APIRouter(prefix="/v1/plans", tags=["plans"])


class PublishIn(BaseModel):
    """The planner's map: retired grid id -> grid id of the plan being published."""

    model_config = ConfigDict(extra="forbid")
    map: dict[str, str] = Field(default_factory=dict, description="OLD grid id -> NEW grid id.")


@router.get("", response_model=list[PlanOut], summary="Every plan with its status and validity period")
def list_plans(store: StoreDep) -> list[dict]:
    """Every plan with its status and validity period (times in Asia/Shanghai)."""
    return [p.as_dict() for p in store.list_plans()]


@router.get(
    "/unattached",
    dependencies=[require("dispatcher")],
    summary="Staff and worker keys left on retired grids (key: dispatcher or higher)",
    responses={200: {"description": "The list."}, 401: {"description": "No key."}, 403: {"description": "Role."},
               404: {"description": "No plan published."}},
)  # fmt: skip
def list_unattached(store: StoreDep) -> list[dict]:
    """Staff and worker-key scopes on grids the published plan no longer has: kind, id, grid_id, community_id."""
    return unattached(store)


@router.post(
    "/map",
    dependencies=[require("planner")],
    summary="Attach the staff, worker keys and open cases of retired grids to grids of the published plan",
    responses={200: {"description": "The per-community table."}, 401: {"description": "No key."},
               403: {"description": "Not a planner key."}, 404: {"description": "No plan published."},
               422: {"description": "Bad map: a grid neither retired nor in the published plan."}},
)  # fmt: skip
def map_unattached(body: PublishIn, service: ServiceDep, caller: CallerDep) -> dict:
    """Apply the planner's map to the published plan (staff, worker keys, open cases follow)."""
    report = publish(service.store, service.store.get_plan(None).name, mapping=body.map, force=True,
                     actor=caller.actor)  # fmt: skip
    service.refresh()
    return report.as_dict()


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
    dependencies=[require("planner")],
    summary="Publish a plan as a migration: staff, worker keys and open cases follow their grids (key: planner)",
    responses={
        200: {"description": "Published (or, with dry_run, what it would do): the plan and the per-community table."},
        401: {"description": "No key."},
        403: {"description": "Not a planner key."},
        404: {"description": "No plan by that name."},
        409: {
            "description": "Refused: staff or open cases would stay on retired grids without a mapping (the "
            "per-community table in error.details); or another publish committed meanwhile."
        },
        422: {"description": "Bad map (a grid not in the old or the new plan) or bad body."},
    },
)
def publish_plan(
    name: str,
    service: ServiceDep,
    caller: CallerDep,
    body: Annotated[PublishIn | None, Body()] = None,
    dry_run: Annotated[bool, Query(description="Show what publishing would do; change nothing.")] = False,
    force: Annotated[bool, Query(description="Publish even if staff or open cases stay unattached.")] = False,
) -> dict:
    """Publish a plan in one transaction that retires the previous one and moves what refers to grids (staff,
    worker-key scopes, open cases re-routed by location with an audit event). 200: the plan and ``migration``
    (per community: grids kept/new/retired, buildings moved, staff moved or left unattached, open cases
    re-routed); 401/403: no planner key; 404: no such plan; 409: refused, the table in ``details`` (map the
    retired grids in ``map`` or pass ``force=true``); 422: bad map."""
    mapping = (body.map if body else {}) or {}
    report = publish(service.store, name, mapping=mapping, force=force, dry_run=dry_run, actor=caller.actor)
    if not dry_run:
        service.refresh()
    return {**service.store.get_plan(name).as_dict(), "migration": report.as_dict()}


@router.get(
    "/{name}/diff",
    dependencies=[require()],
    summary="Compare a plan with another (default: the published one) per community (any key)",
    responses={
        200: {"description": "The per-community table."},
        401: {"description": "No key."},
        404: {"description": "No plan by that name."},
    },
)
def diff_plan(
    name: str,
    store: StoreDep,
    against: Annotated[
        str | None, Query(max_length=64, description="The old plan (default: the published one).")
    ] = None,
) -> dict:
    """Per community: grids kept/new/retired and buildings moved; against the published plan also staff moved or
    left unattached and open cases re-routed (a dry run of the publish). 401: no key; 404: no such plan (or
    nothing published and no ``against``)."""
    old = against or store.get_plan(None).name
    return publish(store, name, against=old, actor="diff").as_dict()
