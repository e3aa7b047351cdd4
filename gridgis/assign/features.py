"""assign(): the grid of every feature (points by the edge rule, polygons by their largest part)."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import shapely
import shapely.errors

from gridgis.assign.index import GridIndex, Predicate
from gridgis.errors import CRSError, CRSWarning, GeometryError, InputError, SchemaError
from gridgis.listing import listing
from gridgis.model import EQUIVALENT_CRS

__all__ = ["assign", "feature_points", "prepare_features"]

_POINT, _POLYGON, _MULTIPOLYGON = 0, 3, 6
# Parts within this relative amount of the largest tie (lowest grid wins): halves equal in lon/lat differ ~2e-7 in UTM.
_AREA_TIE = 1e-6


def prepare_features(features, crs, *, source: str = "features") -> np.ndarray:
    """Check features for assignment and return their geometries in ``crs``.

    Features in another CRS are reprojected with a :class:`~gridgis.errors.CRSWarning`.

    Raises
    ------
    CRSError
        The features have no CRS.
    GeometryError
        Null or empty geometries (rows quoted).
    SchemaError
        Geometry types other than Point, Polygon, MultiPolygon (rows quoted).
    """
    series, geoms = _checked(features, crs, source)
    _points_xy(geoms, series, source)
    return geoms


def _checked(features, crs, source: str) -> tuple[gpd.GeoSeries, np.ndarray]:
    """The features' series and geometries in ``crs``, after the checks of the layer as a whole."""
    if isinstance(features, gpd.GeoDataFrame):
        series = features.geometry
    elif isinstance(features, gpd.GeoSeries):
        series = features
    else:
        raise InputError(
            f"Features must be a GeoDataFrame or GeoSeries, not {type(features).__name__}.",
            fix="read them with gridgis.io.read_layer().",
        )
    if len(series) and series.crs is None:
        raise CRSError(
            f"The {source} have no CRS.", fix="declare it (--crs EPSG:4326, gcj02, bd09...) or set_crs() in code."
        )
    if series.crs is not None and series.crs != crs:
        same = {series.crs.to_string(), crs.to_string()} <= set(EQUIVALENT_CRS)
        action = "taken as equal to" if same else "reprojected to"
        warnings.warn(
            f"The {source} are in {series.crs.to_string()}; {action} the grids' {crs.to_string()}.",
            CRSWarning,
            stacklevel=3,
        )
        series = series.set_crs(crs, allow_override=True) if same else series.to_crs(crs)
    return series, np.asarray(series.values, dtype=object)


def _points_xy(geoms: np.ndarray, series: gpd.GeoSeries, source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y of every point (NaN for the other rows) and the positions of the polygons, every row checked.

    The geometries are walked once for x and once for y; only the rows whose x or y is NaN (polygons,
    nulls, other types, points at NaN) are looked at again. GEOS refuses the x of an empty point.

    Raises
    ------
    GeometryError
        Null or empty geometries (rows quoted).
    SchemaError
        Geometry types other than Point, Polygon, MultiPolygon (rows quoted).
    """
    try:
        x, y = shapely.get_x(geoms), shapely.get_y(geoms)
    except shapely.errors.GEOSException:
        _refuse_missing(series, geoms, source)
        raise
    odd = np.flatnonzero(np.isnan(x) | np.isnan(y))
    types = shapely.get_type_id(geoms[odd])  # -1 for a missing geometry
    if (types == -1).any():
        _refuse_missing(series, geoms, source)
    bad = (types != _POINT) & (types != _POLYGON) & (types != _MULTIPOLYGON)
    if bad.any():
        rows = odd[bad]
        raise SchemaError(
            f"The {source} hold {sorted(set(series.geom_type.iloc[rows]))} at row(s) {listing(series.index[rows])}; "
            "assignment takes Point, Polygon and MultiPolygon.",
            fix="use points or polygons (e.g. the representative point of each line).",
        )
    polygons = odd[types != _POINT]
    if shapely.is_empty(geoms[polygons]).any():
        _refuse_missing(series, geoms, source)
    return x, y, polygons


def _refuse_missing(series: gpd.GeoSeries, geoms: np.ndarray, source: str) -> None:
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    raise GeometryError(
        f"The {source} have null or empty geometries at row(s) {listing(series.index[missing])}.",
        fix="drop those rows or give them a location.",
    )


def feature_points(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x, y of each point; of the representative point (inside the shape) of each polygon."""
    points = geoms.copy()
    polygonal = shapely.get_type_id(geoms) != _POINT
    if polygonal.any():
        points[polygonal] = shapely.point_on_surface(geoms[polygonal])
    return shapely.get_x(points), shapely.get_y(points)


def assign(
    features: gpd.GeoDataFrame | gpd.GeoSeries,
    grids: gpd.GeoDataFrame | GridIndex,
    *,
    predicate: Predicate = "intersects",
) -> np.ndarray:
    """Position of the grid holding each feature (-1 for none).

    Parameters
    ----------
    features
        Points and/or (Multi)Polygons with a CRS; reprojected to the grids' CRS
        with a warning when it differs.
    grids
        The grids layer, or a :class:`GridIndex` built on it (reuse it across calls, or keep it with
        the plan: :func:`gridgis.assign.saved.kept_index`).
    predicate
        The point rule: ``"intersects"`` (default: the grid covers the point, boundary included) or
        ``"within"`` (the point lies in the grid's interior: a point on an edge belongs to no grid), as
        in ``geopandas.sjoin(points, grids, predicate=...)``.

    Returns
    -------
    numpy.ndarray of int64
        Row positions into ``grids`` (not index labels), -1 for features
        outside every grid.

    Notes
    -----
    * A point goes to the grid that covers it (boundary included; with ``predicate="within"`` only
      its interior); on an edge shared by several grids, or in overlapping grids, to the lowest
      grid position among them.
    * A polygon (building footprint) goes to the grid holding the largest part
      of its area (cut along the grid edges, measured in a local metric CRS); parts equal within one part
      in a million are a tie, won by the lowest grid position. A polygon sharing no area with
      any grid (only touching one, or degenerate) follows its representative
      point by the point rule.

    Raises
    ------
    InputError
        Bad grids or features (see :func:`prepare_features`), quoting the rows.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point, box
    >>> grids = gpd.GeoDataFrame({"grid_id": ["a", "b"]},
    ...                          geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)], crs="EPSG:4326")
    >>> features = gpd.GeoSeries([Point(0.5, 0.5), Point(1, 0.5), box(0.8, 0.1, 1.5, 0.2), Point(5, 5)],
    ...                          crs="EPSG:4326")
    >>> assign(features, grids).tolist()
    [0, 0, 1, -1]
    """
    index = grids if isinstance(grids, GridIndex) else GridIndex(grids)
    series, geoms = _checked(features, index.crs, "features")
    # the geometries are walked once for x and once for y (polygons give NaN there), not again
    x, y, polygons = _points_xy(geoms, series, "features")
    out = index.locate(x, y, predicate=predicate)
    if polygons.size:
        out[polygons] = _assign_polygons(geoms[polygons], index, predicate)
    return out


def _assign_polygons(geoms: np.ndarray, index: GridIndex, predicate: Predicate) -> np.ndarray:
    # fast path: the lookup table settles polygons whose box lies in cells wholly inside one grid
    out = index.box_label(*shapely.bounds(geoms).T)
    same = out >= -1
    rest = np.flatnonzero(~same)
    if not rest.size:
        return out
    feat, grid = index.tree.query(geoms[rest], predicate="intersects")
    order = np.lexsort((grid, feat))
    feat, grid = feat[order], grid[order]
    out[rest] = -1
    if feat.size:
        # cut in the grids' own CRS (the edges the point rule uses), measure the parts in metres
        parts = shapely.intersection(geoms[rest][feat], index.geometries[grid])
        area = gpd.GeoSeries(parts, crs=index.crs).to_crs(index.metric_crs).area.to_numpy()
        starts = np.r_[0, np.flatnonzero(np.diff(feat)) + 1]
        largest = np.maximum.reduceat(area, starts)
        per_pair_max = np.repeat(largest, np.diff(np.r_[starts, feat.size]))
        win = (area >= per_pair_max * (1 - _AREA_TIE)) & (per_pair_max > 0)
        wf, wg = feat[win], grid[win]
        lead = np.r_[True, wf[1:] != wf[:-1]] if wf.size else np.zeros(0, dtype=bool)
        out[rest[wf[lead]]] = wg[lead]
        flat = feat[starts][largest <= 0]
        if flat.size:
            x, y = feature_points(geoms[rest[flat]])
            out[rest[flat]] = index.locate(x, y, predicate=predicate)
    return out
