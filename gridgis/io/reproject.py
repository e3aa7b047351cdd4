"""Bring a layer into the storage CRS (EPSG:4326), checking its coordinates on the way.

The rules:

- the CRS comes from the file, or from the caller (``crs=``) when the file
  declares none; when both are given they must agree (GCJ-02/BD-09 apart,
  which files usually mislabel as EPSG:4326);
- ``crs="gcj02"``/``"bd09"`` converts with :mod:`gridgis.crs`; these are never guessed;
- EPSG:4490 (CGCS2000) is taken as EPSG:4326; any other CRS (a CGCS2000
  Gauss-Krüger zone such as EPSG:4526/4547, a UTM zone...) is reprojected; both
  with a :class:`~gridgis.errors.CRSWarning`;
- data outside the declared CRS's area of use, outside China, or with lon/lat
  swapped raise :class:`~gridgis.errors.CRSError` naming the file and the rows.
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from gridgis.crs import check_lonlat, to_wgs84
from gridgis.errors import CRSError, CRSWarning
from gridgis.model import STORAGE_CRS

__all__ = ["parse_crs", "to_storage_crs"]

_LONLAT_ALIASES = {"wgs84": "EPSG:4326", "cgcs2000": "EPSG:4490"}
_OBFUSCATED = ("gcj02", "bd09")
_CRS_CHOICES = "EPSG:4326, EPSG:4490, wgs84, cgcs2000, gcj02, bd09 or an EPSG code such as EPSG:4547"
# Degrees a projected layer may reach beyond its CRS's published area of use
# (e.g. a Gauss-Krüger zone used a little past its 3-degree strip).
_AREA_MARGIN = 2.0


def _key(crs: str) -> str:
    return crs.strip().lower().replace("-", "").replace("_", "")


def parse_crs(crs: str | int | pyproj.CRS | None) -> pyproj.CRS | str | None:
    """A declared CRS as ``pyproj.CRS``, or ``"gcj02"``/``"bd09"``, or None.

    Examples
    --------
    >>> parse_crs("cgcs2000").to_epsg(), parse_crs("GCJ-02"), parse_crs(None)
    (4490, 'gcj02', None)
    """
    if crs is None or isinstance(crs, pyproj.CRS):
        return crs
    if isinstance(crs, str):
        key = _key(crs)
        if key in _OBFUSCATED:
            return key
        crs = _LONLAT_ALIASES.get(key, crs)
    try:
        return pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise CRSError(f"Unknown CRS {crs!r}.", fix=f"use {_CRS_CHOICES}.") from exc


def _is_storage(crs: pyproj.CRS) -> bool:
    return crs.to_epsg() in (4326, 4490) or crs.equals(STORAGE_CRS, ignore_axis_order=True)


def _name(crs: pyproj.CRS) -> str:
    epsg = crs.to_epsg()
    return f"EPSG:{epsg} ({crs.name})" if epsg else crs.name


def _row_bounds(gdf: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per-row bounds as corner arrays (min and max corners stacked), skipping empty rows."""
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    b = shapely.bounds(geoms[present])
    labels = np.asarray(gdf.index[present])
    xy = np.concatenate([b[:, [0, 1]], b[:, [2, 3]]])
    return xy, np.concatenate([labels, labels])


def _check_area_of_use(gdf: gpd.GeoDataFrame, crs: pyproj.CRS, source: str) -> None:
    area = crs.area_of_use
    xy, labels = _row_bounds(gdf)
    if area is None or not len(xy):
        return
    lon, lat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(xy[:, 0], xy[:, 1])
    m = _AREA_MARGIN
    out = ~(
        np.isfinite(lon)
        & np.isfinite(lat)
        & (lon >= area.west - m)
        & (lon <= area.east + m)
        & (lat >= area.south - m)
        & (lat <= area.north + m)
    )
    if out.any():
        rows = list(dict.fromkeys(labels[out].tolist()))
        x, y = xy[out][0]
        hint = " They look like lon/lat degrees." if abs(x) <= 180 and abs(y) <= 90 else ""
        raise CRSError(
            f"{source}: coordinates (x {x:.6g}, y {y:.6g}) at row(s) {', '.join(map(str, rows[:10]))}"
            f"{' and more' if len(rows) > 10 else ''} lie outside the area of use of the declared CRS "
            f"{_name(crs)} ({area.name}: lon {area.west}..{area.east}, lat {area.south}..{area.north}).{hint}",
            fix="declare the CRS the data were really exported in (--crs), e.g. the right Gauss-Krüger zone.",
            details={"rows": rows[:10], "crs": crs.to_string()},
        )


def _check_in_china(gdf: gpd.GeoDataFrame, source: str) -> None:
    xy, labels = _row_bounds(gdf)
    if len(xy):
        check_lonlat(xy[:, 0], xy[:, 1], source=source, rows=labels)


def to_storage_crs(
    gdf: gpd.GeoDataFrame, *, source: str, crs: str | int | pyproj.CRS | None = None
) -> gpd.GeoDataFrame:
    """Return ``gdf`` in EPSG:4326, converting or reprojecting it as its CRS requires.

    Parameters
    ----------
    gdf
        A layer as read, with the CRS its file declares (or none).
    source
        The file name, quoted in errors and warnings.
    crs
        The CRS the caller declares: any pyproj input (``"EPSG:4547"``),
        ``"wgs84"``, ``"cgcs2000"``, ``"gcj02"`` or ``"bd09"``.

    Raises
    ------
    CRSError
        No CRS at all; a declared CRS that contradicts the file's; coordinates
        outside the CRS's area of use or outside China; swapped lon/lat.

    Warns
    -----
    CRSWarning
        When the data were converted, reprojected, or taken as equal to EPSG:4326.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> gk = gpd.GeoDataFrame(geometry=[Point(38_500_000, 2_517_000)], crs="EPSG:4526")
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     out = to_storage_crs(gk, source="gk.shp")
    >>> out.crs.to_epsg(), round(out.geometry[0].x, 3), round(out.geometry[0].y, 3)
    (4326, 114.0, 22.751)
    """
    declared = parse_crs(crs)
    own = gdf.crs
    if isinstance(declared, str):  # gcj02 / bd09: lon/lat with an offset
        if own is not None and not own.is_geographic:
            raise CRSError(
                f"{source} declares the projected CRS {_name(own)}, but {declared} was given: GCJ-02 and BD-09 "
                "are lon/lat.",
                fix=f"drop --crs {declared}, or export the data as lon/lat.",
            )
        _check_in_china(gdf, source)
        out = gdf.copy()
        out[out.geometry.name] = shapely.transform(
            np.asarray(gdf.geometry.values, dtype=object),
            lambda xy: np.column_stack(to_wgs84(xy[:, 0], xy[:, 1], declared)),
        )
        out = out.set_crs(STORAGE_CRS, allow_override=True)
        warnings.warn(
            f"{source}: converted {declared.upper()} coordinates to WGS84 (EPSG:4326).", CRSWarning, stacklevel=2
        )
        return out
    if own is None and declared is None:
        raise CRSError(
            f"{source} declares no CRS.",
            fix=f"declare it with --crs ({_CRS_CHOICES}); a Shapefile needs its .prj file.",
        )
    conflict = own is not None and declared is not None and not own.equals(declared, ignore_axis_order=True)
    if conflict and not (_is_storage(own) and _is_storage(declared)):
        raise CRSError(
            f"{source} declares {_name(own)}, but {_name(declared)} was given.",
            fix="drop --crs (the file's own CRS is used), or fix the file's CRS.",
        )
    src = own if own is not None else declared
    if _is_storage(src):
        out = (
            gdf.set_crs(STORAGE_CRS, allow_override=True) if gdf.crs is None or not gdf.crs.equals(STORAGE_CRS) else gdf
        )
        if src.to_epsg() == 4490:
            warnings.warn(
                f"{source}: CGCS2000 (EPSG:4490) taken as WGS84 (EPSG:4326); they agree within centimetres.",
                CRSWarning,
                stacklevel=2,
            )
        _check_in_china(out, source)
        return out
    src_gdf = gdf if own is not None else gdf.set_crs(src)
    _check_area_of_use(src_gdf, src, source)
    out = src_gdf.to_crs(STORAGE_CRS)
    warnings.warn(f"{source}: reprojected from {_name(src)} to EPSG:4326.", CRSWarning, stacklevel=2)
    _check_in_china(out, source)
    return out
