"""Grids of a plan as GeoJSON, with their statistics (households, population, buildings, shops)."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import shapely
from fastapi import APIRouter, Query
from fastapi.responses import Response

from api.deps import SnapshotDep, StoreDep
from api.geojson import feature, feature_collection, parse_bbox
from gridgis.errors import NotFoundError
from gridgis.store.snapshot import on_duty

router = APIRouter(prefix="/v1/grids", tags=["grids"])

BboxQuery = Annotated[str | None, Query(description="minx,miny,maxx,maxy (WGS84): grids intersecting it.")]


def grid_position(snap, grid_id: str) -> int:
    hits = np.flatnonzero(snap.grid_ids == grid_id)
    if hits.size == 0:
        raise NotFoundError(
            f"No grid {grid_id!r} in plan {snap.plan.name!r}.",
            fix="list the grids with GET /v1/grids (or pass ?plan= for another plan).",
            details={"plan": snap.plan.name},
        )
    return int(hits[0])


@router.get("", summary="Grids (GeoJSON FeatureCollection) with statistics; filter by bbox, community, town")
def list_grids(
    snap: SnapshotDep,
    bbox: BboxQuery = None,
    community_id: str | None = None,
    town_id: str | None = None,
) -> Response:
    grids = snap.grids
    keep = np.ones(len(grids), dtype=bool)
    box = parse_bbox(bbox)
    if box is not None:
        keep &= shapely.intersects(np.asarray(grids.geometry.values), shapely.box(*box))
    if community_id is not None:
        keep &= (grids["community_id"].astype(str) == community_id).to_numpy()
    if town_id is not None:
        keep &= (grids["town_id"].astype(str) == town_id).to_numpy()
    rows = np.flatnonzero(keep)
    props = grids.drop(columns="geometry").iloc[rows].to_dict(orient="records")
    return feature_collection(
        snap.grid_ids[rows].tolist(), props, grids.geometry.values[rows], plan=snap.plan.name, numberMatched=len(rows)
    )


@router.get("/{grid_id}", summary="One grid (GeoJSON Feature) with statistics and staff on duty")
def get_grid(grid_id: str, snap: SnapshotDep, store: StoreDep) -> Response:
    pos = grid_position(snap, grid_id)
    props = snap.grids.drop(columns="geometry").iloc[pos].to_dict()
    props["staff"] = on_duty(store.get_staff(grid_id))
    props["community"] = snap.answers[pos]["community"]
    props["town"] = snap.answers[pos]["town"]
    return feature(grid_id, props, snap.grids.geometry.values[pos], plan=snap.plan.name)
