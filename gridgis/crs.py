"""Coordinate handling: GCJ-02/BD-09 conversions, a local metric CRS, lon/lat sanity checks.

GCJ-02 (Amap, Tencent, WeChat) and BD-09 (Baidu) are obfuscated lon/lat
systems used by Chinese web maps. Their forward transforms are published
formulas; the inverses have no closed form and are solved here by fixed-point
iteration to far below 1 cm. All functions take and return numpy arrays and
apply the formulas everywhere: callers check that points lie in China first
(:func:`check_lonlat`), since the offsets are only defined there.

The conversions are only ever applied when the caller declares the input
CRS as ``"gcj02"`` or ``"bd09"``; gridgis never guesses them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from pyproj.aoi import AreaOfInterest
from pyproj.database import query_utm_crs_info

from gridgis.errors import CRSError
from gridgis.listing import listing

__all__ = [
    "CHINA_BOUNDS",
    "LONLAT_CRS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "check_lonlat",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "local_metric_crs",
    "point_to_wgs84",
    "to_local_metric",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

#: lon/lat CRS names accepted by :func:`to_wgs84` (CGCS2000 is equal to WGS84 within centimetres).
LONLAT_CRS = ("wgs84", "cgcs2000", "gcj02", "bd09")
#: (min lon, min lat, max lon, max lat) of China including the South China Sea islands.
CHINA_BOUNDS = (73.0, 3.0, 136.0, 54.0)

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formulas.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0
# Iterate inverses until the forward transform reproduces the input to 1e-10 degrees (~0.01 mm).
_TOLERANCE = 1e-10
_MAX_ITER = 50


def _arrays(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    if lon.shape != lat.shape:
        raise CRSError(f"lon and lat differ in shape: {lon.shape} vs {lat.shape}.", fix="pass arrays of equal length.")
    return lon, lat


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - 105.0, lat - 35.0
    s = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * s + common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * s + common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad = np.radians(lat)
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = dlon * 180.0 / (_A / sqrt_magic * np.cos(rad) * np.pi)
    return dlon, dlat


def _invert(forward, lon: np.ndarray, lat: np.ndarray, start: tuple[np.ndarray, np.ndarray]):
    """Solve ``forward(x, y) == (lon, lat)`` by fixed-point iteration from ``start``."""
    x, y = start
    for _ in range(_MAX_ITER):
        fx, fy = forward(x, y)
        ex, ey = fx - lon, fy - lat
        x, y = x - ex, y - ey
        if not (np.nanmax(np.abs(ex), initial=0.0) > _TOLERANCE or np.nanmax(np.abs(ey), initial=0.0) > _TOLERANCE):
            break
    return x, y


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS84 lon/lat to GCJ-02 (the published forward formula).

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02([116.404], [39.915])
    >>> round(float(lon[0]), 6), round(float(lat[0]), 6)
    (116.410244, 39.916404)
    """
    lon, lat = _arrays(lon, lat)
    dlon, dlat = _gcj_offset(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 lon/lat to WGS84, iterating until the round trip is exact to ~0.01 mm.

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84(*wgs84_to_gcj02([112.96], [22.76]))
    >>> round(float(lon[0]), 9), round(float(lat[0]), 9)
    (112.96, 22.76)
    """
    lon, lat = _arrays(lon, lat)
    dlon, dlat = _gcj_offset(lon, lat)
    return _invert(wgs84_to_gcj02, lon, lat, (lon - dlon, lat - dlat))


def gcj02_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 lon/lat to BD-09 (Baidu's published forward formula).

    Examples
    --------
    >>> lon, lat = gcj02_to_bd09([116.404], [39.915])
    >>> round(float(lon[0]), 6), round(float(lat[0]), 6)
    (116.410369, 39.921337)
    """
    lon, lat = _arrays(lon, lat)
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Convert BD-09 lon/lat to GCJ-02: the usual approximate inverse, refined by iteration.

    Examples
    --------
    >>> lon, lat = bd09_to_gcj02(*gcj02_to_bd09([112.96], [22.76]))
    >>> round(float(lon[0]), 9), round(float(lat[0]), 9)
    (112.96, 22.76)
    """
    lon, lat = _arrays(lon, lat)
    x, y = lon - 0.0065, lat - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return _invert(gcj02_to_bd09, lon, lat, (z * np.cos(theta), z * np.sin(theta)))


def wgs84_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS84 lon/lat to BD-09 (via GCJ-02).

    Examples
    --------
    >>> lon, lat = wgs84_to_bd09([112.96], [22.76])
    >>> bool(lon[0] > 112.96 and lat[0] > 22.76)  # Baidu's offset is north-east, about 1 km here
    True
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Convert BD-09 lon/lat to WGS84 (via GCJ-02).

    Examples
    --------
    >>> lon, lat = bd09_to_wgs84(*wgs84_to_bd09([112.96], [22.76]))
    >>> round(float(lon[0]), 9), round(float(lat[0]), 9)
    (112.96, 22.76)
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def to_wgs84(lon, lat, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert lon/lat declared in ``crs`` to WGS84.

    Parameters
    ----------
    lon, lat
        Arrays of coordinates in degrees.
    crs
        One of ``"wgs84"``, ``"cgcs2000"`` (returned unchanged: they agree within
        centimetres), ``"gcj02"``, ``"bd09"``.

    Examples
    --------
    >>> lon, lat = to_wgs84([112.96], [22.76], "wgs84")
    >>> float(lon[0]), float(lat[0])
    (112.96, 22.76)
    """
    key = crs.lower().replace("-", "").replace("_", "")
    lon, lat = _arrays(lon, lat)
    if key in ("wgs84", "cgcs2000"):
        return lon.copy(), lat.copy()
    if key == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if key == "bd09":
        return bd09_to_wgs84(lon, lat)
    raise CRSError(f"Unknown lon/lat CRS {crs!r}.", fix=f"use one of {list(LONLAT_CRS)}.")


#: The fix of each :func:`check_lonlat` error, worded for where the coordinates came from: a file read by the
#: CLI or :func:`gridgis.io.read_layer` (options ``--lon/--lat/--crs``, keywords ``lon=/lat=/crs=``), or an API
#: request (fields ``lon``, ``lat``, ``crs``). One check, two wordings.
LONLAT_FIXES = {
    "cli": {
        "missing": "fill in or drop those rows.",
        "swapped": "swap the columns (name the longitude column with --lon and the latitude column with --lat).",
        "projected": "declare the projected CRS (e.g. --crs EPSG:4547 for CGCS2000 3-degree Gauss-Krüger, CM 114E).",
        "outside": "check the CRS the data were exported in and declare it with --crs.",
    },
    "api": {
        "missing": "send numbers in both lon and lat.",
        "swapped": "send the longitude in lon (Open311: long) and the latitude in lat, e.g. lon=112.96&lat=22.76.",
        "projected": f"send degrees (lon/lat), not projected metres; the crs field takes {list(LONLAT_CRS)}.",
        "outside": f"send a point in China, in degrees; name its CRS in the crs field ({list(LONLAT_CRS)}).",
    },
}


def point_to_wgs84(lon: float, lat: float, crs: str, *, source: str) -> tuple[float, float]:
    """:func:`check_lonlat` and :func:`to_wgs84` for one point, without numpy in the common case.

    A WGS84 or CGCS2000 point inside China (what the checks pass) comes back as it is;
    anything else goes through the array functions. ``source`` names the point in errors.

    Examples
    --------
    >>> point_to_wgs84(112.96, 22.76, "wgs84", source="query")
    (112.96, 22.76)
    >>> try:
    ...     point_to_wgs84(22.76, 112.96, "wgs84", source="query")
    ... except CRSError as exc:
    ...     print("look swapped" in str(exc))
    True
    """
    x0, y0, x1, y1 = CHINA_BOUNDS
    if not (x0 <= lon <= x1 and y0 <= lat <= y1):  # also catches NaN
        check_lonlat([lon], [lat], source=source, audience="api")
    if crs in ("wgs84", "cgcs2000"):
        return lon, lat
    x, y = to_wgs84([lon], [lat], crs)
    return float(x[0]), float(y[0])


def check_lonlat(
    lon, lat, *, source: str, rows: Sequence | None = None, audience: Literal["cli", "api"] = "cli"
) -> None:
    """Raise :class:`CRSError` unless every lon/lat lies in China.

    The message says when the values look swapped (latitudes in the longitude
    range and the other way round) or look like projected metres.

    Parameters
    ----------
    lon, lat
        Arrays of coordinates in degrees.
    source
        The file (or request) they came from, quoted in the message.
    rows
        Row labels for the positions, quoted in the message (default: positions).
    audience
        Who reads the fix: ``"cli"`` (files: ``--lon/--lat/--crs``) or ``"api"``
        (request fields ``lon``, ``lat``, ``crs``); see :data:`LONLAT_FIXES`.

    Examples
    --------
    >>> check_lonlat([112.96], [22.76], source="shops.csv")
    >>> check_lonlat([22.76], [112.96], source="shops.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gridgis.errors.CRSError: shops.csv: lon/lat look swapped ...
    """
    fixes = LONLAT_FIXES[audience]
    lon, lat = _arrays(lon, lat)
    lon, lat = lon.ravel(), lat.ravel()
    labels = np.arange(lon.size) if rows is None else np.asarray(rows)
    finite = np.isfinite(lon) & np.isfinite(lat)
    if not finite.all():
        bad = _unique(labels[~finite])
        raise CRSError(
            f"{source}: missing or non-numeric coordinates at row(s) {listing(bad)}.",
            fix=fixes["missing"],
            details={"rows": bad[:10].tolist()},
        )
    xmin, ymin, xmax, ymax = CHINA_BOUNDS
    inside = (lon >= xmin) & (lon <= xmax) & (lat >= ymin) & (lat <= ymax)
    if inside.all():
        return
    out = ~inside
    bad = _unique(labels[out])
    sample = f"(lon {lon[out][0]:.6g}, lat {lat[out][0]:.6g})"
    swapped = (lat[out] >= xmin) & (lat[out] <= xmax) & (lon[out] >= ymin) & (lon[out] <= ymax)
    details = {"rows": bad[:10].tolist()}
    if swapped.all():
        raise CRSError(
            f"{source}: lon/lat look swapped at row(s) {listing(bad)}, e.g. {sample}: the latitudes are "
            "in China's longitude range and the longitudes in its latitude range.",
            fix=fixes["swapped"],
            details=details,
        )
    if (np.abs(lon[out]) > 180).any() or (np.abs(lat[out]) > 90).any():
        raise CRSError(
            f"{source}: coordinates {sample} at row(s) {listing(bad)} are not degrees; they look like "
            "projected metres.",
            fix=fixes["projected"],
            details=details,
        )
    raise CRSError(
        f"{source}: coordinates {sample} at row(s) {listing(bad)} lie outside China {CHINA_BOUNDS}.",
        fix=fixes["outside"],
        details=details,
    )


def _unique(labels: np.ndarray) -> np.ndarray:
    """Labels in first-seen order without repeats (a row may be checked at several corners)."""
    return np.asarray(list(dict.fromkeys(labels.tolist())))


def local_metric_crs(geoms_or_bounds) -> pyproj.CRS:
    """The WGS84 UTM zone CRS covering the data, for area and distance work.

    Parameters
    ----------
    geoms_or_bounds
        A GeoDataFrame or GeoSeries (any CRS), an array of shapely geometries in
        lon/lat, or ``(min lon, min lat, max lon, max lat)``.

    Examples
    --------
    >>> local_metric_crs((112.3, 22.5, 113.0, 22.9)).to_epsg()
    32649
    """
    if isinstance(geoms_or_bounds, gpd.GeoDataFrame | gpd.GeoSeries):
        data = geoms_or_bounds
        if data.crs is None:
            raise CRSError("Cannot pick a metric CRS for data without a CRS.", fix="set the CRS first.")
        bounds = tuple(data.to_crs("EPSG:4326").total_bounds) if not data.crs.is_geographic else data.total_bounds
    elif isinstance(geoms_or_bounds, tuple | list) and len(geoms_or_bounds) == 4 and np.isscalar(geoms_or_bounds[0]):
        bounds = geoms_or_bounds
    else:
        bounds = shapely.total_bounds(np.asarray(geoms_or_bounds))
    west, south, east, north = map(float, bounds)
    if not np.isfinite([west, south, east, north]).all():
        raise CRSError("Cannot pick a metric CRS for empty data.", fix="pass at least one geometry.")
    lon, lat = (west + east) / 2, (south + north) / 2
    infos = query_utm_crs_info(datum_name="WGS 84", area_of_interest=AreaOfInterest(lon, lat, lon, lat))
    if not infos:
        raise CRSError(f"No UTM zone covers lon {lon:.4f}, lat {lat:.4f}.", fix="check the coordinates.")
    return pyproj.CRS.from_epsg(int(infos[0].code))


def to_local_metric(geoms_or_bounds) -> pyproj.Transformer:
    """A transformer from lon/lat (EPSG:4326, x = lon) to the :func:`local_metric_crs` of the data.

    Examples
    --------
    >>> fwd = to_local_metric((112.3, 22.5, 113.0, 22.9))
    >>> fwd.target_crs.to_epsg(), [round(v) for v in fwd.transform(111.0, 0.0)]
    (32649, [500000, 0])
    """
    return pyproj.Transformer.from_crs("EPSG:4326", local_metric_crs(geoms_or_bounds), always_xy=True)
