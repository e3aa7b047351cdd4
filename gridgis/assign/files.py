"""Assigning the features of a file, in chunks: bounded memory, progress (:mod:`gridgis.progress`), an atomic output.

The file is streamed by :func:`gridgis.io.iter_features` (each chunk prepared
as :func:`gridgis.io.read_layer` prepares a layer), each chunk goes through
:func:`~gridgis.assign.assign`, and :func:`gridgis.io.write_chunks` appends it
to a temporary output file that replaces the target only when every chunk is
written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from gridgis.assign.features import assign, feature_points
from gridgis.assign.index import GridIndex
from gridgis.assign.overlaps import grid_overlaps, points_in_several_grids
from gridgis.errors import FileFormatError, InputError
from gridgis.io import DEFAULT_CHUNK, CRSInput, count_features, iter_features, list_layers, read_layer, write_chunks
from gridgis.io.formats import resolve_layer
from gridgis.model import LAYERS, validate_layer
from gridgis.progress import task

__all__ = ["DEFAULT_CHUNK", "GRID_COLUMNS", "AssignSummary", "assign_file", "read_grids", "with_grid_columns"]

#: columns ``gridgis assign`` adds to every feature
GRID_COLUMNS = ("grid_id", "grid_code", "community_id", "town_id")


def read_grids(path: str | Path, layer: str = "grids") -> gpd.GeoDataFrame:
    """Read and check a grids layer: the ``grids`` layer of a plan, or a single-layer file of grids."""
    names = list_layers(path)
    if layer not in names:
        if len(names) != 1:
            raise FileFormatError(f"{path} has no layer {layer!r}; it has {names}.", fix="name it with --grids-layer.")
        layer = names[0]
    grids = read_layer(path, layer, validate=False)
    return validate_layer(grids, "grids", source=str(path))


def with_grid_columns(features: gpd.GeoDataFrame, positions: np.ndarray, grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``features`` with :data:`GRID_COLUMNS` of the grid at each position (None where -1).

    Existing columns of those names (e.g. a building's own ``community_id``) are replaced.
    """
    out = features.copy()
    found = positions >= 0
    for col in GRID_COLUMNS:
        values = np.full(len(out), None, dtype=object)
        values[found] = grids[col].to_numpy(dtype=object)[positions[found]]
        out[col] = pd.Series(values, index=out.index, dtype="string")
    return out


@dataclass
class AssignSummary:
    """What :func:`assign_file` did: counts, and the features it could not place cleanly."""

    features: int = 0
    assigned: int = 0
    outside: int = 0
    in_several: int = 0
    #: up to ``limit`` features outside every grid: row, id, lon, lat, nearest_grid_id, distance_m
    outside_rows: list[dict] = field(default_factory=list)
    #: up to ``limit`` features inside 2+ overlapping grids: row, id, grid_ids
    several_rows: list[dict] = field(default_factory=list)
    #: pairs of overlapping grids: grid_id_a, grid_id_b, area_m2
    grid_overlaps: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def assign_file(
    grids: gpd.GeoDataFrame,
    features: str | Path,
    output: str | Path,
    *,
    layer: str | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    crs: CRSInput = None,
    encoding: str | None = None,
    lon: str = "lon",
    lat: str = "lat",
    limit: int = 20,
    index: GridIndex | None = None,
) -> AssignSummary:
    """Assign every feature of a file to ``grids`` and write it with :data:`GRID_COLUMNS` added.

    Parameters
    ----------
    grids
        The grids layer (see :func:`read_grids`).
    features
        Any supported file (GeoPackage, GeoJSON, Shapefile, GeoParquet, CSV).
    output
        Output file; its suffix picks the format. Written atomically: on any
        error, nothing is left at ``output``.
    layer
        The features' layer in a GeoPackage.
    chunk_size
        Features held in memory at a time.
    crs, encoding, lon, lat
        As for :func:`gridgis.io.read_layer`.
    limit
        How many outside/overlap features the summary lists (all are counted).
    index
        The :class:`GridIndex` of ``grids`` when it is at hand (e.g. kept with the plan:
        :func:`gridgis.assign.saved.kept_index`); else built.

    Returns
    -------
    AssignSummary
    """
    features, output = Path(features), Path(output)
    index = index if index is not None else GridIndex(grids)
    overlaps = grid_overlaps(index)
    grid_ids = grids["grid_id"].to_numpy(dtype=object)
    summary = AssignSummary(
        grid_overlaps=[
            {"grid_id_a": grid_ids[a], "grid_id_b": grid_ids[b], "area_m2": round(float(m2), 2)}
            for a, b, m2 in overlaps.itertuples(index=False)
        ]
    )
    name = resolve_layer(features, layer)
    id_column = LAYERS[name].id_column if name in LAYERS else None
    total = count_features(features, layer)
    with task(f"assigning {features.name}", total=total) as bar:

        def assigned() -> Iterator[gpd.GeoDataFrame]:
            chunks = iter_features(features, layer, chunk_size=chunk_size, crs=crs, encoding=encoding, lon=lon, lat=lat)
            for chunk in chunks:
                positions = assign(chunk, index)
                _report_chunk(summary, chunk, positions, index, grid_ids, overlaps, id_column, limit)
                bar.advance(len(chunk))
                yield with_grid_columns(chunk, positions, grids)

        if write_chunks(assigned(), output, name) == 0:
            raise InputError(
                f"{features} has no features to assign (none with a geometry); nothing was written to {output}.",
                fix="check the file (gridgis inspect) and the --layer.",
            )
    return summary


def _report_chunk(summary, chunk, positions, index, grid_ids, overlaps, id_column, limit) -> None:
    summary.features += len(chunk)
    summary.assigned += int((positions >= 0).sum())
    outside = np.flatnonzero(positions < 0)
    summary.outside += outside.size
    ids = chunk[id_column].to_numpy(dtype=object) if id_column in chunk.columns else chunk.index.to_numpy()
    geoms = np.asarray(chunk.geometry.values, dtype=object)
    room = limit - len(summary.outside_rows)
    if outside.size and room > 0:
        shown = outside[:room]
        x, y = feature_points(geoms[shown])
        nearest, metres = index.nearest(x, y)
        for i, px, py, g, d in zip(shown, x, y, nearest, metres, strict=True):
            summary.outside_rows.append(
                {
                    "row": int(chunk.index[i]),
                    "id": _plain(ids[i]),
                    "lon": round(float(px), 7),
                    "lat": round(float(py), 7),
                    "nearest_grid_id": grid_ids[g] if g >= 0 else None,
                    "distance_m": round(float(d), 1),
                }
            )
    if not overlaps.empty:
        x, y = feature_points(geoms)
        point, grid = points_in_several_grids(index, x, y, overlaps=overlaps)
        firsts = np.unique(point)
        summary.in_several += firsts.size
        for p in firsts[: max(limit - len(summary.several_rows), 0)]:
            summary.several_rows.append(
                {"row": int(chunk.index[p]), "id": _plain(ids[p]), "grid_ids": [grid_ids[g] for g in grid[point == p]]}
            )


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
