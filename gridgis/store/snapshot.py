"""An in-memory, read-only copy of one plan for fast point-in-grid answers.

:func:`load_snapshot` reads a plan, the staff and the extra layers from a
store once, indexes the grids and precomputes each grid's full answer (grid,
community, town, staff, the extra-layer areas that cover the whole grid) as
JSON bytes. A locate then costs one index query plus, only for grids that an
extra-layer boundary crosses, a point-in-polygon test per crossing area.
Snapshots never change; a new plan or staff edit means a new snapshot,
swapped in by a single reference assignment (see ``api.deps``). Point in grid is
:class:`gridgis.assign.GridIndex`, the index ``gridgis assign`` uses, so both give the same answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from gridgis.assign import GridIndex
from gridgis.store.base import EXTRA_PLAN_ID, PlanInfo, Store
from gridgis.store.gridindex import plan_index

GRID_FIELDS = ("grid_id", "grid_code", "name", "kind", "households", "population", "buildings", "shops")
COMMUNITY_FIELDS = ("community_id", "name", "kind")
TOWN_FIELDS = ("town_id", "name", "kind")


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _pick(row: dict[str, Any] | None, fields: tuple[str, ...]) -> dict[str, Any] | None:
    if row is None:
        return None
    return {f: _clean(row.get(f)) for f in fields}


def _clean(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def on_duty(staff: dict[str, Any] | None) -> dict[str, Any]:
    """The leader and the workers on duty (``on_duty`` absent means on duty), as the public sees them:
    without personal phone numbers; ``desk_phone`` is the grid's service desk number."""
    staff = staff or {}
    workers = [_public(w) for w in staff.get("workers") or [] if w.get("on_duty", True)]
    leader = staff.get("leader")
    return {"leader": _public(leader) if leader else leader, "workers": workers, "desk_phone": staff.get("desk_phone")}


def _public(person: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in person.items() if k != "phone"} if isinstance(person, dict) else person


@dataclass(frozen=True)
class Snapshot:
    """One plan, ready to answer: grids (positional), their answers, the locator."""

    plan: PlanInfo
    revision: int
    grids: gpd.GeoDataFrame
    towns: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    layers: dict[str, gpd.GeoDataFrame]
    locator: GridIndex
    #: grid_id of each grid row, as an object array of str
    grid_ids: np.ndarray
    answers: list[dict[str, Any]]
    #: per grid: JSON of the answer without its ``point`` and ``layers`` members, braces stripped
    answer_body: list[bytes]
    #: per grid: JSON list of the extra-layer areas covering the whole grid, brackets stripped
    static_layers: list[bytes]
    #: per grid: (geometry, area) of extra-layer areas that only partly cover it
    partial_layers: list[list[tuple[Any, dict[str, Any]]]]

    def locate(self, lon, lat) -> np.ndarray:
        """Grid row positions for WGS84 points (-1 outside; edge rule of :class:`gridgis.assign.GridIndex`)."""
        return self.locator.locate(lon, lat)

    def answer_json(self, pos: int, lon: float, lat: float, point: bytes) -> bytes:
        """The full answer for grid ``pos`` and the point, as JSON bytes (``point``: its JSON)."""
        layers = self.static_layers[pos]
        partial = self.partial_layers[pos]
        if partial:
            extra = [_dumps(area) for geom, area in partial if shapely.intersects_xy(geom, lon, lat)]
            layers = b",".join(([layers] if layers else []) + extra)
        return b'{"point":' + point + b"," + self.answer_body[pos] + b',"layers":[' + layers + b"]}"

    def answer(self, pos: int, lon: float, lat: float) -> dict[str, Any]:
        """The full answer as a dict (for batch and tests; same content as :meth:`answer_json`)."""
        out = dict(self.answers[pos])
        areas = json.loads(b"[" + self.static_layers[pos] + b"]")
        areas += [area for geom, area in self.partial_layers[pos] if shapely.intersects_xy(geom, lon, lat)]
        out["layers"] = areas
        return out


def load_snapshot(store: Store, plan: str | None = None, *, previous: Snapshot | None = None) -> Snapshot:
    """Read plan ``plan`` (default: the published one) with staff and extra layers into memory.

    Stored plans never change, so when ``previous`` holds the same plan its layers and index are reused
    and only staff and extra layers are read again (a staff edit costs milliseconds, not an index build).
    A point on an area's edge counts as inside it, as for grids.

    Examples
    --------
    With a published plan in the store::

        snap = load_snapshot(open_store())
        pos = snap.locator.locate_point(112.96, 22.76)
        snap.answer(pos, 112.96, 22.76)["grid"]["grid_code"]  # '440784101001001'
    """
    revision = store.revision()
    info = store.get_plan(plan)
    if previous is not None and previous.plan.plan_id == info.plan_id:
        grids, towns, communities, locator = previous.grids, previous.towns, previous.communities, previous.locator
    else:
        grids = store.load_layer(info.plan_id, "grids")
        towns = store.load_layer(info.plan_id, "towns") if info.counts.get("towns") else _empty()
        communities = store.load_layer(info.plan_id, "communities") if info.counts.get("communities") else _empty()
        locator = plan_index(store, info.plan_id, grids)  # kept in the store: built once per plan
        x0, y0, _, _ = grids.total_bounds
        locator.nearest([x0 - 0.01], [y0])  # builds its metric tree now, not in the first outside request
    staff = store.all_staff()
    layer_infos = store.list_layers()
    layers = {li.name: store.load_layer(EXTRA_PLAN_ID, li.name) for li in layer_infos}

    town_rows = _by_id(towns, "town_id")
    com_rows = _by_id(communities, "community_id")
    answers, bodies = [], []
    for row in grids.drop(columns="geometry").to_dict(orient="records"):
        com = com_rows.get(str(row.get("community_id")))
        town = town_rows.get(str(row.get("town_id")))
        answer = {
            "plan": info.name,
            "grid": _pick(row, GRID_FIELDS),
            "community": _pick(com, COMMUNITY_FIELDS) or {"community_id": row.get("community_id")},
            "town": _pick(town, TOWN_FIELDS) or {"town_id": row.get("town_id")},
            "staff": on_duty(staff.get(str(row["grid_id"]))),
        }
        answers.append(answer)
        bodies.append(_dumps(answer)[1:-1])

    geoms = np.asarray(grids.geometry.values)
    static: list[list[bytes]] = [[] for _ in range(len(grids))]
    partial: list[list[tuple[Any, dict[str, Any]]]] = [[] for _ in range(len(grids))]
    for li in layer_infos:
        frame = layers[li.name]
        areas = np.asarray(frame.geometry.values)
        shapely.prepare(areas)
        props = frame.drop(columns="geometry").to_dict(orient="records")
        area_idx, grid_idx = shapely.STRtree(geoms).query(areas, predicate="intersects")
        covers = shapely.covers(areas[area_idx], geoms[grid_idx])
        for a, g, full in zip(area_idx, grid_idx, covers, strict=True):
            label = props[a].get(li.name_field) if li.name_field else None
            area = {"layer": li.name, "id": int(a) + 1, "name": _clean(label)}
            if full:
                static[g].append(_dumps(area))
            else:
                partial[g].append((areas[a], area))
    return Snapshot(
        plan=info,
        revision=revision,
        grids=grids,
        towns=towns,
        communities=communities,
        layers=layers,
        locator=locator,
        grid_ids=grids["grid_id"].astype(str).to_numpy(dtype=object),
        answers=answers,
        answer_body=bodies,
        static_layers=[b",".join(s) for s in static],
        partial_layers=partial,
    )


def _empty() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")


def _by_id(frame: gpd.GeoDataFrame, column: str) -> dict[str, dict[str, Any]]:
    if column not in frame.columns:
        return {}
    return {str(r[column]): r for r in frame.drop(columns="geometry").to_dict(orient="records")}
