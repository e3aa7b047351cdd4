"""Bring a layer into the storage CRS (EPSG:4326), checking its coordinates on the way.

The rules:

- the CRS comes from the file, or from the caller (``crs=``, ``--crs``), which
  always wins: over what the file declares or what its driver defaults to (a
  GeoJSON without ``crs`` member is WGS84 to GDAL), with a warning naming both;
- a Gauss-Krüger CRS whose false easting does not match the data (the zone
  number in front of the eastings or not, the two flavours of CGCS2000 zones,
  EPSG:4491-4554) is read as the flavour the coordinates have, with a warning;
- ``crs="gcj02"``/``"bd09"`` converts with :mod:`gridgis.crs`; these are never guessed;
- EPSG:4490 (CGCS2000) is taken as EPSG:4326; any other CRS (a CGCS2000
  Gauss-Krüger zone such as EPSG:4526/4547, a UTM zone...) is reprojected; both
  with a :class:`~gridgis.errors.CRSWarning`;
- data outside the declared CRS's area of use, outside China, with lon/lat
  swapped, or projected with x and y swapped (surveyors' X = northing) raise
  :class:`~gridgis.errors.CRSError` naming the file and the rows.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from gridgis.crs import check_lonlat, to_wgs84
from gridgis.errors import CRSError, CRSWarning
from gridgis.listing import listing
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


def _outside_area(crs: pyproj.CRS, area, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    lon, lat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    m = _AREA_MARGIN
    return ~(
        np.isfinite(lon)
        & np.isfinite(lat)
        & (lon >= area.west - m)
        & (lon <= area.east + m)
        & (lat >= area.south - m)
        & (lat <= area.north + m)
    )


def _check_area_of_use(gdf: gpd.GeoDataFrame, crs: pyproj.CRS, source: str) -> None:
    area = crs.area_of_use
    xy, labels = _row_bounds(gdf)
    if area is None or not len(xy):
        return
    out = _outside_area(crs, area, xy[:, 0], xy[:, 1])
    if not out.any():
        return
    rows = list(dict.fromkeys(labels[out].tolist()))
    x, y = xy[out][0]
    details = {"rows": rows[:10], "crs": crs.to_string()}
    if crs.is_projected and not _outside_area(crs, area, xy[:, 1], xy[:, 0]).any():
        table = source.lower().endswith(".csv")
        raise CRSError(
            f"{source}: x and y look swapped at row(s) {listing(rows)} (x {x:.6g}, y {y:.6g}): x holds the "
            f"northings, as surveyors write X, and y the eastings of {_name(crs)}.",
            fix="name the easting column with --lon and the northing column with --lat."
            if table
            else "export the file again with x = easting and y = northing.",
            details=details,
        )
    hint = " They look like lon/lat degrees." if abs(x) <= 180 and abs(y) <= 90 else ""
    raise CRSError(
        f"{source}: coordinates (x {x:.6g}, y {y:.6g}) at row(s) {listing(rows)} lie outside the area of use of "
        f"{_name(crs)} ({area.name}: lon {area.west}..{area.east}, lat {area.south}..{area.north}).{hint}",
        fix="declare the CRS the data were really exported in with --crs, e.g. the right Gauss-Krüger zone.",
        details=details,
    )


def _check_in_china(gdf: gpd.GeoDataFrame, source: str) -> None:
    xy, labels = _row_bounds(gdf)
    if len(xy):
        check_lonlat(xy[:, 0], xy[:, 1], source=source, rows=labels)


def to_storage_crs(
    gdf: gpd.GeoDataFrame, *, source: str, crs: str | int | pyproj.CRS | None = None, default_crs: bool = False
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
        ``"wgs84"``, ``"cgcs2000"``, ``"gcj02"`` or ``"bd09"``; it overrides
        the layer's own CRS (with a warning naming both).
    default_crs
        The layer's CRS is its format's default, not declared by the file
        (a GeoJSON without ``crs`` member); quoted in messages.

    Raises
    ------
    CRSError
        No CRS at all; coordinates outside the CRS's area of use or outside
        China; metres declared as lon/lat; swapped lon/lat or projected axes.

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
    own = _identified(gdf.crs) if gdf.crs is not None else None
    if own is not None and declared is not None and not _same(own, declared):
        said = "defaults to" if default_crs else "declares"
        warnings.warn(
            f"{source} {said} {_name(own)}; --crs {declared if isinstance(declared, str) else _name(declared)} "
            "was given and is used instead.",
            CRSWarning,
            stacklevel=2,
        )
        own = None
        gdf = gdf.set_crs(None, allow_override=True)
    if isinstance(declared, str):  # gcj02 / bd09: lon/lat with an offset
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
        no_prj = source.lower().endswith(".shp") and not any(
            Path(source).with_suffix(s).exists() for s in (".prj", ".PRJ")
        )
        bad_prj = source.lower().endswith(".shp") and not no_prj
        raise CRSError(
            f"{source} has no .prj file, so its CRS is unknown."
            if no_prj
            else f"{source}: its .prj file holds no CRS that PROJ understands."
            if bad_prj
            else f"{source} declares no CRS.",
            fix=f"declare it with --crs ({_CRS_CHOICES}).",
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
        _check_not_metres(out, source, default_crs)
        _check_in_china(out, source)
        return out
    src_gdf = gdf.set_crs(src, allow_override=True)
    flavour = _gauss_kruger_flavour(src_gdf, src)
    if flavour is not None:
        warnings.warn(
            f"{source}: {_name(src)} puts the false easting at {_false_easting(src):,.0f} m, but the eastings "
            f"{'carry' if _false_easting(flavour) > 1e6 else 'lack'} the zone number; read as {_name(flavour)}.",
            CRSWarning,
            stacklevel=2,
        )
        src, src_gdf = flavour, src_gdf.set_crs(flavour, allow_override=True)
    _check_area_of_use(src_gdf, src, source)
    out = src_gdf.to_crs(STORAGE_CRS)
    warnings.warn(f"{source}: reprojected from {_name(src)} to EPSG:4326.", CRSWarning, stacklevel=2)
    _check_in_china(out, source)
    return out


def _identified(crs: pyproj.CRS) -> pyproj.CRS:
    """The EPSG CRS a file's CRS (often an ESRI .prj without codes) stands for, when pyproj identifies one."""
    if crs.to_epsg(min_confidence=100) is not None:
        return crs
    code = crs.to_epsg(min_confidence=70)
    if code is None:
        return crs
    candidate = pyproj.CRS.from_epsg(code)
    return candidate if candidate.is_projected == crs.is_projected else crs


def _same(a: pyproj.CRS, b: pyproj.CRS | str) -> bool:
    if isinstance(b, str):
        return False
    return a.equals(b, ignore_axis_order=True) or (_is_storage(a) and _is_storage(b))


def _tm_params(crs: pyproj.CRS) -> dict[str, float] | None:
    op = crs.coordinate_operation
    if op is None or "transverse mercator" not in op.method_name.lower():
        return None
    return {p.name.lower(): p.value for p in op.params}


def _false_easting(crs: pyproj.CRS) -> float:
    return (_tm_params(crs) or {}).get("false easting", 0.0)


def _gauss_kruger_flavour(gdf: gpd.GeoDataFrame, crs: pyproj.CRS) -> pyproj.CRS | None:
    """The other flavour of a Gauss-Krüger CRS when the eastings fit it and not ``crs``, else None.

    Zone-numbered CRSs put ``zone * 1e6 + 500000`` m as false easting (EPSG:4513-4533 for CGCS2000
    3-degree zones 25-45, 4491-4501 for 6-degree zones 13-23); the others 500000 m (EPSG:4534-4554,
    4502-4512), so the eastings either carry the zone number in front (38,5xx,xxx) or not (5xx,xxx).
    """
    params = _tm_params(crs)
    xy, _ = _row_bounds(gdf)
    if params is None or not len(xy):
        return None
    fe = params.get("false easting", 0.0)
    cm = params.get("longitude of natural origin")
    x = xy[:, 0]
    zones = np.floor(x / 1e6)
    if cm is None or not np.isfinite(x).all():
        return None
    if abs(fe - 500_000) < 1 and (zones == zones[0]).all() and zones[0] >= 13:
        zone = int(zones[0])
        if not (zone * 3 == cm or zone * 6 - 3 == cm):
            return None
        new_fe = zone * 1e6 + 500_000
    elif fe > 1e6 and abs(fe % 1e6 - 500_000) < 1 and (np.abs(x - 500_000) < 500_000).all():
        new_fe = 500_000.0
    else:
        return None
    return _cgcs2000_zone(crs, cm, zoned=new_fe > 1e6) or pyproj.CRS.from_dict({**crs.to_dict(), "x_0": new_fe})


def _cgcs2000_zone(crs: pyproj.CRS, cm: float, *, zoned: bool) -> pyproj.CRS | None:
    """The EPSG CRS of a CGCS2000 Gauss-Krüger zone with central meridian ``cm``, the zone number in the
    false easting (``zoned``) or not; None for other datums or meridians."""
    if crs.datum is None or "2000" not in crs.datum.name:
        return None
    if cm % 3 == 0 and 25 <= cm // 3 <= 45:  # 3-degree zones 25-45: CM 75E-135E
        return pyproj.CRS.from_epsg((4513 if zoned else 4534) + int(cm // 3) - 25)
    if (cm + 3) % 6 == 0 and 13 <= (cm + 3) // 6 <= 23:  # 6-degree zones 13-23: CM 75E-135E
        return pyproj.CRS.from_epsg((4491 if zoned else 4502) + int((cm + 3) // 6) - 13)
    return None


def _check_not_metres(gdf: gpd.GeoDataFrame, source: str, default_crs: bool) -> None:
    """Lon/lat that are metres: name the Gauss-Krüger zone they look like in the error."""
    xy, labels = _row_bounds(gdf)
    if not len(xy) or (np.abs(xy) <= 1000).all():  # degrees, or swapped degrees (check_lonlat tells)
        return
    x, y = xy[:, 0], xy[:, 1]
    said = "is WGS84 lon/lat by default (it has no crs member)" if default_crs else "declares lon/lat"
    guess = _guess_gauss_kruger(x, y)
    rows = list(dict.fromkeys(labels[(np.abs(x) > 1000) | (np.abs(y) > 1000)].tolist()))
    raise CRSError(
        f"{source} {said}, but its coordinates (x {x[0]:.6g}, y {y[0]:.6g}) at row(s) {listing(rows)} are metres"
        f"{f'; they look like {guess}' if guess else ''}.",
        fix=f"declare the CRS they were exported in with --crs{f' ({guess.split()[-1][1:-1]})' if guess else ''}, "
        "e.g. EPSG:4526 for CGCS2000 3-degree Gauss-Krüger zone 38, EPSG:4547 for CM 114E.",
        details={"rows": rows[:10]},
    )


def _guess_gauss_kruger(x: np.ndarray, y: np.ndarray) -> str | None:
    """'CGCS2000 3-degree Gauss-Krüger zone 38 (EPSG:4526)' for eastings carrying a zone number in China."""
    zones = np.unique(np.floor(x / 1e6))
    if len(zones) != 1 or not ((y > 1.5e6) & (y < 6.0e6)).all():
        return None
    zone = int(zones[0])
    if 25 <= zone <= 45:
        return f"CGCS2000 3-degree Gauss-Krüger zone {zone} (EPSG:{4513 + zone - 25})"
    if 13 <= zone <= 23:
        return f"CGCS2000 6-degree Gauss-Krüger zone {zone} (EPSG:{4491 + zone - 13})"
    return None
