"""Documented geometry repairs: invalid polygons made valid, empty geometries dropped, each with a warning.

Survey and web-map files often hold self-intersecting polygons. gridgis does
not reject them: :func:`repair_geometries` runs ``shapely.make_valid`` on the
invalid ones and keeps their polygonal parts, and :func:`drop_empty` removes
rows without a geometry; both warn with the count and the rows. A polygon
that collapses (no area left: a ring with too few distinct points, all its
points on a line) becomes a point in layers that take points (buildings keep
their households) and an empty geometry elsewhere, which :func:`drop_empty`
then drops naming the rows.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import shapely

from gridgis.errors import RepairWarning
from gridgis.listing import listing

__all__ = ["drop_empty", "polygonal_parts", "repair_geometries"]

_POLYGONAL_IDS = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)


def polygonal_parts(geoms: np.ndarray) -> np.ndarray:
    """Keep only the polygonal parts of each geometry (vectorized).

    A geometry with one polygonal part becomes a Polygon, with several a
    MultiPolygon, with none an empty Polygon.

    Examples
    --------
    >>> from shapely.geometry import GeometryCollection, LineString, box
    >>> g = GeometryCollection([box(0, 0, 1, 1), LineString([(1, 1), (2, 2)])])
    >>> polygonal_parts(np.array([g]))[0].wkt
    'POLYGON ((1 0, 1 1, 0 1, 0 0, 1 0))'
    >>> [p.geom_type for p in polygonal_parts(np.array([LineString([(0, 0), (1, 1)]), g]))]
    ['Polygon', 'Polygon']
    """
    geoms = np.asarray(geoms, dtype=object)
    parts, owner = shapely.get_parts(geoms, return_index=True)
    # MultiPolygons inside collections need a second flattening.
    parts, sub = shapely.get_parts(parts, return_index=True)
    owner = owner[sub]
    keep = (shapely.get_type_id(parts) == shapely.GeometryType.POLYGON) & (shapely.area(parts) > 0)
    parts, owner = parts[keep], owner[keep]
    counts = np.bincount(owner, minlength=len(geoms))
    out = np.array([shapely.Polygon()] * len(geoms), dtype=object)
    if parts.size:
        # geometries without a polygonal part leave gaps in ``owner``: number the others 0..m-1
        has, dense = np.unique(owner, return_inverse=True)
        out[has] = shapely.multipolygons(parts, indices=dense)
        single = counts == 1
        out[single] = shapely.get_geometry(out[single], 0)
    return out


def repair_geometries(gdf: gpd.GeoDataFrame, *, layer: str, source: str) -> gpd.GeoDataFrame:
    """Make invalid polygons valid, keeping their polygonal parts; warn with the count and the rows.

    A polygon with no area left once valid (collapsed: a line, a point)
    becomes its centroid when ``layer`` takes points (``buildings``, see
    :data:`gridgis.model.LAYERS`), else an empty geometry (:func:`drop_empty`
    drops it); the warning names those rows apart.

    Parameters
    ----------
    gdf
        Any layer; only invalid Polygon/MultiPolygon rows are touched.
    layer, source
        Names quoted in the warning; ``layer`` also says whether points are allowed.

    Returns
    -------
    GeoDataFrame
        ``gdf`` itself when nothing was invalid, else a copy with the repaired rows.

    Warns
    -----
    RepairWarning
        Counting the repaired rows and naming the first ones.

    Examples
    --------
    >>> from shapely.geometry import Polygon
    >>> bowtie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    >>> gdf = gpd.GeoDataFrame(geometry=[bowtie], crs="EPSG:4326")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     fixed = repair_geometries(gdf, layer="towns", source="towns.shp")
    >>> fixed.geometry[0].geom_type, round(fixed.geometry[0].area, 6), len(caught)
    ('MultiPolygon', 2.0, 1)
    """
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    polygonal = np.isin(shapely.get_type_id(geoms), _POLYGONAL_IDS)
    invalid = polygonal & ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    if not invalid.any():
        return gdf
    valid = shapely.make_valid(geoms[invalid])
    fixed = polygonal_parts(valid)
    collapsed = shapely.is_empty(fixed)
    to_point = _takes_points(layer) and collapsed.any()
    if to_point:
        fixed[collapsed] = shapely.centroid(valid[collapsed])
    out = gdf.copy()
    new = np.array(geoms, dtype=object)
    new[invalid] = fixed
    out[out.geometry.name] = gpd.GeoSeries(new, index=out.index, crs=gdf.crs)
    rows = out.index[invalid]
    lost = rows[collapsed]
    note = ""
    if len(lost):
        became = "became points (their centroid)" if to_point else "were left empty (dropped next)"
        note = f"; {len(lost)} of them had no polygonal part left and {became}: row(s) {listing(lost)}"
    warnings.warn(
        f"{source}: repaired {int(invalid.sum())} invalid polygon(s) in layer {layer!r} at row(s) {listing(rows)} "
        f"with make_valid, keeping their polygonal parts{note}.",
        RepairWarning,
        stacklevel=2,
    )
    return out


def _takes_points(layer: str) -> bool:
    from gridgis.model import LAYERS, PUNTAL

    schema = LAYERS.get(layer)
    return schema is not None and set(PUNTAL) <= set(schema.geometry_types)


def drop_empty(gdf: gpd.GeoDataFrame, *, layer: str, source: str) -> gpd.GeoDataFrame:
    """Drop rows whose geometry is null or empty; warn naming the rows.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> gdf = gpd.GeoDataFrame({"shop_id": [1, 2]}, geometry=[Point(113, 22.7), None], crs="EPSG:4326")
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     drop_empty(gdf, layer="shops", source="shops.csv").shop_id.tolist()
    [1]
    """
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if not empty.any():
        return gdf
    rows = gdf.index[empty]
    warnings.warn(
        f"{source}: dropped {int(empty.sum())} row(s) of layer {layer!r} with a null or empty geometry: "
        f"row(s) {listing(rows)}.",
        RepairWarning,
        stacklevel=2,
    )
    return gdf.loc[~empty].copy()
