"""Overlapping grids (a broken plan) and the points that fall in two or more of them."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgis.assign.index import GridIndex

__all__ = ["grid_overlaps", "points_in_several_grids"]


#: Overlaps under this many m² are slivers of coordinate rounding along shared edges (0.1 mm over
#: kilometres of edge), not a broken plan; a grid drawn over its neighbour covers far more.
MIN_OVERLAP_M2 = 1.0


def grid_overlaps(grids: gpd.GeoDataFrame | GridIndex, *, min_area_m2: float = MIN_OVERLAP_M2) -> pd.DataFrame:
    """Pairs of grids whose interiors overlap, with the shared area in m².

    Grids that only share an edge or a corner (a proper tiling) are not listed,
    nor overlaps under ``min_area_m2`` (rounding slivers along shared edges).

    Returns
    -------
    pandas.DataFrame with columns ``grid_a``, ``grid_b`` (row positions, a < b)
    and ``area_m2``; empty for a valid plan.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> grids = gpd.GeoSeries([box(0, 0, 10, 10), box(10, 0, 20, 10), box(5, 0, 15, 10)], crs="EPSG:32649")
    >>> grid_overlaps(grids).to_dict("records")
    [{'grid_a': 0, 'grid_b': 2, 'area_m2': 50.0}, {'grid_a': 1, 'grid_b': 2, 'area_m2': 50.0}]
    """
    index = grids if isinstance(grids, GridIndex) else GridIndex(grids)
    a, b = index.tree.query(index.geometries, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    if a.size:
        interiors = shapely.relate_pattern(index.geometries[a], index.geometries[b], "T********")
        a, b = a[interiors], b[interiors]
    area = shapely.area(shapely.intersection(index.metric_geometries[a], index.metric_geometries[b]))
    big = area >= min_area_m2
    a, b, area = a[big], b[big], area[big]
    order = np.lexsort((b, a))
    return pd.DataFrame({"grid_a": a[order], "grid_b": b[order], "area_m2": area[order]})


def points_in_several_grids(
    index: GridIndex, lon, lat, *, overlaps: pd.DataFrame | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Points inside two or more overlapping grids (in their interiors: a shared edge does not count).

    Only the overlaps :func:`grid_overlaps` reports are searched (rounding slivers are left out).

    Parameters
    ----------
    index
        The grids.
    lon, lat
        Point coordinates in the grids' CRS.
    overlaps
        :func:`grid_overlaps` of the grids, when already computed.

    Returns
    -------
    (point, grid) : two int64 arrays of equal length, one row per point and
    grid holding it, sorted by point then grid. Empty for a valid plan.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import box
    >>> index = GridIndex(gpd.GeoSeries([box(0, 0, 2, 1), box(1, 0, 3, 1)], crs="EPSG:32649"))
    >>> point, grid = points_in_several_grids(index, [0.5, 1.5, 2.5], [0.5, 0.5, 0.5])
    >>> point.tolist(), grid.tolist()
    ([1, 1], [0, 1])
    """
    overlaps = grid_overlaps(index) if overlaps is None else overlaps
    x = np.asarray(lon, dtype=np.float64).ravel()
    y = np.asarray(lat, dtype=np.float64).ravel()
    empty = np.empty(0, dtype=np.int64)
    if overlaps.empty:
        return empty, empty
    # a point in several grids is located to the lowest of them, which is one of the overlapping grids
    involved = np.unique(overlaps[["grid_a", "grid_b"]].to_numpy())
    suspects = np.flatnonzero(np.isin(index.locate(x, y), involved))
    if not suspects.size:
        return empty, empty
    pt, grid = index.tree.query(shapely.points(x[suspects], y[suspects]), predicate="within")
    counts = np.bincount(pt, minlength=suspects.size)
    keep = counts[pt] >= 2
    pt, grid = suspects[pt[keep]], grid[keep]
    order = np.lexsort((grid, pt))
    return pt[order].astype(np.int64), grid[order].astype(np.int64)
