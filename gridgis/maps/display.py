"""Geometry made light for the browser: simplified in metres, shifted for Amap tiles, rounded, as GeoJSON."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgis.crs import local_metric_crs, wgs84_to_gcj02

#: display tolerance of polygon and line simplification, metres
TOLERANCE_M = 3.0
#: decimals kept in page coordinates: 1e-6 degree is about 0.1 m, far below the tolerance
DECIMALS = 6


def _shift(xy: np.ndarray) -> np.ndarray:
    lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def display_geometry(
    geoms: gpd.GeoSeries, *, gcj02: bool = False, tolerance_m: float = TOLERANCE_M, coverage: bool = False
) -> np.ndarray:
    """Geometries of ``geoms`` (EPSG:4326) as drawn: simplified, optionally in GCJ-02, rounded.

    Parameters
    ----------
    geoms
        Polygons, lines or points in EPSG:4326.
    gcj02
        Shift to GCJ-02, the datum of Amap tiles, so the overlay sits on them.
    tolerance_m
        Simplification tolerance in metres (0: none): Douglas-Peucker distance for
        lines and lone polygons; for coverages, the square root of the largest
        triangle area removed (Visvalingam-Whyatt, as GEOS does it). Points are never simplified.
    coverage
        The polygons tile an area (grids, communities, towns): simplify shared
        edges once, with :func:`shapely.coverage_simplify`, so no gaps or
        overlaps appear between neighbours.

    Returns
    -------
    numpy.ndarray of shapely geometries in lon/lat.

    Examples
    --------
    >>> from shapely.geometry import LineString
    >>> line = gpd.GeoSeries([LineString([(113, 22.7), (113.0005, 22.7000001), (113.001, 22.7)])], crs=4326)
    >>> len(display_geometry(line)[0].coords)  # the middle vertex is 1 cm off the line
    2
    """
    values = geoms.values
    if tolerance_m > 0 and not geoms.empty and not (geoms.geom_type == "Point").all():
        metric = geoms.to_crs(local_metric_crs(geoms))
        simplify = shapely.coverage_simplify if coverage else shapely.simplify
        values = gpd.GeoSeries(simplify(metric.values, tolerance_m), crs=metric.crs).to_crs(geoms.crs).values
    values = np.asarray(values, dtype=object)
    if gcj02:
        values = shapely.transform(values, _shift)
    return shapely.transform(values, lambda xy: np.round(xy, DECIMALS))


def feature_collection(frame: pd.DataFrame, geometry: np.ndarray) -> dict:
    """A GeoJSON FeatureCollection of ``frame``'s columns (made JSON-safe) and ``geometry``."""
    gdf = gpd.GeoDataFrame(frame.reset_index(drop=True), geometry=list(geometry), crs="EPSG:4326")
    return json.loads(gdf.to_json(drop_id=True, ensure_ascii=False))


def display_bounds(geometry: np.ndarray) -> tuple[float, float, float, float]:
    """(min lon, min lat, max lon, max lat) of displayed geometries."""
    return tuple(float(v) for v in shapely.total_bounds(geometry))
