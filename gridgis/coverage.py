"""What the grids cover: counts and sums per grid, community and town, and the features left out.

Planners check that every building, shop and unit (驻区单位) falls in a grid:
in one Shanghai district only 12.8% of street shops were covered by the
community networks until they were drawn into the residential grids. The
report counts each layer's features per grid (by :func:`gridgis.assign.assign`),
sums households and population of buildings, rolls both up to communities and
towns, and lists every uncovered feature with its nearest grid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from gridgis.assign import GridIndex, assign, feature_points
from gridgis.assign.files import GRID_COLUMNS
from gridgis.errors import InputError
from gridgis.io.atomic import atomic_path
from gridgis.model import LAYERS

__all__ = ["COUNTED_LAYERS", "CoverageReport", "coverage", "measure_names"]

#: layer name -> name of its count column (any other layer is counted under its own name)
COUNTED_LAYERS = {"buildings": "buildings", "shops": "shops", "facilities": "units", "units": "units"}
#: columns summed over the buildings layer
SUMMED = ("households", "population")


def measure_names(layer: str) -> list[str]:
    """Columns a layer contributes to the report: its count, and for buildings the sums."""
    count = COUNTED_LAYERS.get(layer, layer)
    return [count, *SUMMED] if layer == "buildings" else [count]


@dataclass
class CoverageReport:
    """Coverage tables; every count/sum column holds integers.

    Attributes
    ----------
    grids
        One row per grid: ``grid_id, grid_code, community_id, town_id`` and the measures.
    communities
        One row per community: ``community_id, town_id, grids`` and the measures.
    towns
        One row per town: ``town_id, communities, grids`` and the measures.
    totals
        One row per layer: ``layer, features, covered, uncovered, covered_share``.
    uncovered
        One row per feature outside every grid: ``layer, row, id, lon, lat,
        nearest_grid_id, distance_m`` (lon/lat of the point, or of a point inside the polygon).
    """

    grids: pd.DataFrame
    communities: pd.DataFrame
    towns: pd.DataFrame
    totals: pd.DataFrame
    uncovered: pd.DataFrame

    def to_dict(self) -> dict:
        def records(frame: pd.DataFrame) -> list[dict]:
            return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]

        return {name: records(getattr(self, name)) for name in ("totals", "towns", "communities", "grids", "uncovered")}

    def to_csv(self, path: str | Path) -> None:
        """One CSV holding the grid, community and town rows, told apart by a ``level`` column."""
        frames = [
            self.towns.rename(columns={"town_id": "id"}).assign(level="town", town_id=self.towns["town_id"]),
            self.communities.rename(columns={"community_id": "id"}).assign(
                level="community", community_id=self.communities["community_id"]
            ),
            self.grids.rename(columns={"grid_id": "id"}).assign(level="grid"),
        ]
        table = pd.concat(frames, ignore_index=True)
        for col in ("communities", "grids"):
            table[col] = table[col].astype("Int64")  # blank on the levels that lack it
        first = ["level", "id", "grid_code", "community_id", "town_id", "communities", "grids"]
        table = table[[c for c in first if c in table.columns] + [c for c in table.columns if c not in first]]
        with atomic_path(path) as tmp:
            table.to_csv(tmp, index=False, encoding="utf-8-sig")


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    if value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return value


def coverage(
    layers: Mapping[str, gpd.GeoDataFrame | Iterable[gpd.GeoDataFrame]], grids: gpd.GeoDataFrame
) -> CoverageReport:
    """Count and sum each layer's features per grid, community and town; list the uncovered ones.

    Parameters
    ----------
    layers
        Layer name -> features, or an iterable of chunks of them (e.g.
        :func:`gridgis.io.iter_features`, for files larger than memory).
        ``buildings`` are counted with their households and population summed;
        ``shops`` counted as shops; ``facilities`` (or ``units``) as units; any
        other layer is counted under its own name.
    grids
        The grids layer (``grid_id, grid_code, community_id, town_id``).

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> grids = gpd.GeoDataFrame({"grid_id": ["g1", "g2"], "grid_code": ["g1", "g2"],
    ...                           "community_id": ["c1", "c1"], "town_id": ["t1", "t1"]},
    ...                          geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs="EPSG:4326")
    >>> shops = gpd.GeoDataFrame({"shop_id": [1, 2, 3]},
    ...                          geometry=[Point(0.5, 0.5), Point(1.5, 0.5), Point(3, 3)], crs="EPSG:4326")
    >>> report = coverage({"shops": shops}, grids)
    >>> report.grids["shops"].tolist(), report.totals["covered"].tolist(), report.uncovered["id"].tolist()
    ([1, 1], [2], [3])
    """
    missing = [c for c in GRID_COLUMNS if c not in grids.columns]
    if missing:
        raise InputError(f"The grids layer lacks column(s) {missing}.", fix="use the 'grids' layer of a plan.")
    if not layers:
        raise InputError("No feature layers to count.", fix="pass buildings, shops or other point/polygon layers.")
    index = GridIndex(grids)
    n = index.n_grids
    grid_ids = grids["grid_id"].to_numpy(dtype=object)
    measures: dict[str, np.ndarray] = {}
    totals, uncovered = [], []
    for name, data in layers.items():
        chunks = [data] if isinstance(data, gpd.GeoDataFrame | gpd.GeoSeries) else data
        id_column = LAYERS[name].id_column if name in LAYERS else None
        count_col, *sum_cols = measure_names(name)
        features = covered = 0
        for chunk in chunks:
            positions = assign(chunk, index)
            inside = positions[positions >= 0]
            measures[count_col] = measures.get(count_col, 0) + np.bincount(inside, minlength=n)
            for col in sum_cols:
                if col in chunk.columns:
                    weights = pd.to_numeric(chunk[col], errors="coerce").fillna(0).to_numpy()[positions >= 0]
                    measures[col] = measures.get(col, 0) + np.bincount(inside, weights=weights, minlength=n)
            features += len(chunk)
            covered += inside.size
            uncovered.append(_uncovered(name, chunk, positions, id_column, index, grid_ids))
        totals.append({"layer": name, "features": features, "covered": covered, "uncovered": features - covered})
    per_grid = grids[list(GRID_COLUMNS)].reset_index(drop=True).copy()
    for col, values in measures.items():
        per_grid[col] = np.rint(values).astype(np.int64)
    cols = list(measures)
    communities = (
        per_grid.groupby(["community_id", "town_id"], sort=True)
        .agg(grids=("grid_id", "size"), **{c: (c, "sum") for c in cols})
        .reset_index()
    )
    towns = (
        communities.groupby("town_id", sort=True)
        .agg(communities=("community_id", "size"), grids=("grids", "sum"), **{c: (c, "sum") for c in cols})
        .reset_index()
    )
    totals = pd.DataFrame(totals)
    totals["covered_share"] = (totals["covered"] / totals["features"].where(totals["features"] > 0)).round(4)
    out = pd.concat(uncovered, ignore_index=True) if uncovered else None
    return CoverageReport(per_grid, communities, towns, totals, out)


def _uncovered(name, chunk, positions, id_column, index: GridIndex, grid_ids) -> pd.DataFrame:
    rows = np.flatnonzero(positions < 0)
    geoms = chunk.geometry.iloc[rows]
    if geoms.crs is not None and geoms.crs != index.crs:
        geoms = geoms.to_crs(index.crs)
    geoms = np.asarray(geoms.values, dtype=object)
    x, y = feature_points(geoms) if rows.size else (np.empty(0), np.empty(0))
    nearest, metres = index.nearest(x, y)
    ids = chunk[id_column].to_numpy(dtype=object)[rows] if id_column in chunk.columns else chunk.index.to_numpy()[rows]
    return pd.DataFrame(
        {
            "layer": name,
            "row": chunk.index.to_numpy()[rows],
            "id": ids,
            "lon": x.round(7),
            "lat": y.round(7),
            "nearest_grid_id": np.where(nearest >= 0, grid_ids[np.maximum(nearest, 0)], None),
            "distance_m": metres.round(1),
        }
    )
