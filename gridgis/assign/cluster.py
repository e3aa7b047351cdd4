"""The Dask engine: the same assignment over partitioned GeoParquet on a dask.distributed cluster.

Every partition runs :func:`gridgis.assign.assign` against one
:class:`~gridgis.assign.GridIndex` shipped once to the workers, so the result
is identical to the local engine, row for row.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import dask
import geopandas as gpd
import numpy as np
import pandas as pd

from gridgis.assign.features import assign, feature_points
from gridgis.assign.files import GRID_COLUMNS, AssignSummary, with_grid_columns
from gridgis.assign.index import GridIndex
from gridgis.assign.overlaps import grid_overlaps
from gridgis.cluster import dask_client
from gridgis.errors import FileFormatError, GridgisError, InputError
from gridgis.io.formats import unreadable

__all__ = ["assign_parquet_dask"]


def _assign_partition(part: gpd.GeoDataFrame, index: GridIndex, grids: pd.DataFrame) -> gpd.GeoDataFrame:
    return with_grid_columns(part, assign(part, index), grids)


def _is_parquet(path: Path) -> bool:
    if path.is_dir():
        return any(path.glob("*.parquet"))
    return path.suffix.lower() in (".parquet", ".geoparquet")


def assign_parquet_dask(
    grids: gpd.GeoDataFrame,
    features: str | Path,
    output: str | Path,
    *,
    scheduler: str | None = None,
    n_workers: int = 2,
    limit: int = 20,
    index: GridIndex | None = None,
) -> AssignSummary:
    """Assign a (partitioned) GeoParquet dataset on a Dask cluster; write partitioned GeoParquet.

    Parameters
    ----------
    grids
        The grids layer.
    features
        A GeoParquet file or a directory of GeoParquet parts (one partition each).
    output
        A directory (conventionally ``*.parquet``) receiving one part per
        partition; written to a temporary directory first, then moved into place.
    scheduler
        Address ``tcp://HOST:PORT`` of a running scheduler; default: a
        ``LocalCluster`` of ``n_workers`` single-threaded worker processes
        (see :func:`gridgis.cluster.dask_client`).
    limit
        How many outside features the summary lists (all are counted).
    index
        The :class:`GridIndex` of ``grids`` when it is at hand (e.g. kept with the plan); else built.
    """
    import dask_geopandas

    features, output = Path(features), Path(output)
    if not features.exists():
        raise FileFormatError(f"{features} does not exist.", fix="check the path.")
    if not _is_parquet(features):
        raise FileFormatError(
            f"The dask engine reads partitioned GeoParquet; {features} is not.",
            fix="convert it first (gridgis assign ... --engine local -o x.parquet), or use the local engine.",
        )
    try:  # fail before a cluster starts: a damaged or non-Geo Parquet file is one clear error
        frame = dask_geopandas.read_parquet(features)
    except GridgisError:
        raise
    except Exception as exc:
        raise unreadable(features, exc) from exc
    index = index if index is not None else GridIndex(grids)
    columns = pd.DataFrame(grids[list(GRID_COLUMNS)])
    with dask_client(scheduler, n_workers=n_workers) as client:
        if frame.npartitions == 0 or not len(frame.columns):
            raise InputError(f"{features} has no features to assign.", fix="check the dataset.")
        # one copy per worker, not one per task (the lookup table is a few MiB)
        shipped = client.scatter(index, broadcast=True)
        meta = with_grid_columns(frame._meta, np.zeros(0, dtype=np.int64), columns)
        result = frame.map_partitions(_assign_partition, shipped, columns, meta=meta)
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent))
        try:
            result.to_parquet(tmp, compute=True)
            written = dask_geopandas.read_parquet(tmp)
            found = written["grid_id"].notnull()
            n, assigned = dask.compute(found.size, found.sum())
            outside = written[~found].head(limit, npartitions=-1)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    if n == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise InputError(f"{features} has no features to assign.", fix="check the dataset.")
    if output.is_dir():
        shutil.rmtree(output)
    elif output.exists():
        output.unlink()
    os.replace(tmp, output)
    return _summary(index, grids, int(n), int(assigned), outside)


def _summary(index, grids, n, assigned, outside: gpd.GeoDataFrame) -> AssignSummary:
    grid_ids = grids["grid_id"].to_numpy(dtype=object)
    overlaps = grid_overlaps(index)
    summary = AssignSummary(
        features=n,
        assigned=assigned,
        outside=n - assigned,
        grid_overlaps=[
            {"grid_id_a": grid_ids[a], "grid_id_b": grid_ids[b], "area_m2": round(float(m2), 2)}
            for a, b, m2 in overlaps.itertuples(index=False)
        ],
    )
    if len(outside):
        x, y = feature_points(np.asarray(outside.geometry.values, dtype=object))
        nearest, metres = index.nearest(x, y)
        for label, px, py, g, d in zip(outside.index, x, y, nearest, metres, strict=True):
            summary.outside_rows.append(
                {
                    "row": label.item() if isinstance(label, np.generic) else label,
                    "id": None,
                    "lon": round(float(px), 7),
                    "lat": round(float(py), 7),
                    "nearest_grid_id": grid_ids[g] if g >= 0 else None,
                    "distance_m": round(float(d), 1),
                }
            )
    return summary
