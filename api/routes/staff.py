"""Staff of each grid (grid leader, workers, phones): read by anyone, edited by dispatchers and above."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ServiceDep, SnapshotDep, StoreDep, require
from api.routes.grids import grid_position
from api.schemas import StaffFullOut, StaffIn

router = APIRouter(prefix="/v1/grids", tags=["staff"])


@router.get("/{grid_id}/staff", response_model=StaffFullOut, summary="All staff of a grid (on duty or not)")
def get_staff(grid_id: str, snap: SnapshotDep, store: StoreDep) -> dict:
    """The grid's leader and workers. 404: no such grid in the plan."""
    grid_position(snap, grid_id)
    doc = store.get_staff(grid_id) or {}
    return {"grid_id": grid_id, "leader": doc.get("leader"), "workers": doc.get("workers", [])}


@router.put(
    "/{grid_id}/staff",
    response_model=StaffFullOut,
    dependencies=[require("dispatcher")],
    summary="Replace the staff of a grid (key with role dispatcher or higher)",
)
def put_staff(grid_id: str, body: StaffIn, snap: SnapshotDep, service: ServiceDep) -> dict:
    """Replace the grid's staff; locate answers it within ``poll_seconds``. 401/403: no dispatcher key; 404: no
    such grid; 422: bad body."""
    grid_position(snap, grid_id)
    doc = body.model_dump()
    service.store.set_staff(grid_id, doc)
    service.refresh()
    return {"grid_id": grid_id, **doc}
