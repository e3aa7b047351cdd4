"""Reading layers into EPSG:4326, repaired and checked (:func:`read_layer`, :func:`read_layers`).

Every read goes through the same steps: read the file as stored
(:mod:`gridgis.io.formats`; Shapefile/CSV encoding as :mod:`gridgis.io.encoding`
decides) -> bring it to EPSG:4326 with its coordinates checked
(:mod:`gridgis.io.reproject`) -> repair invalid polygons and drop empty
geometries with warnings (:mod:`gridgis.repair`) -> turn division codes back
into text -> check known layers against the data model
(:func:`gridgis.model.validate_layer`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pyproj

from gridgis.errors import CRSWarning, FileFormatError
from gridgis.io.formats import crs_is_default, list_file_layers, read_frame
from gridgis.io.lonlat_csv import STRING_COLUMNS
from gridgis.io.reproject import to_storage_crs
from gridgis.listing import listing
from gridgis.model import LAYERS, validate_layer
from gridgis.progress import drawing, task
from gridgis.repair import drop_empty, repair_geometries

__all__ = ["CRSInput", "list_layers", "prepare_layer", "read_layer", "read_layers"]

CRSInput = str | int | pyproj.CRS | None


def list_layers(path: str | Path) -> list[str]:
    """Names of the layers in a file: every layer of a GeoPackage, the file's stem otherwise.

    Examples
    --------
    >>> from gridgis.paths import HESHAN_OUTLINE
    >>> list_layers(HESHAN_OUTLINE)
    ['heshan']
    """
    return list_file_layers(path)


def _codes_as_text(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Division codes stored as numbers (Shapefile, GeoJSON, CSV) back to strings."""
    numeric = [c for c in STRING_COLUMNS if c in gdf.columns and pd.api.types.is_numeric_dtype(gdf[c])]
    if not numeric:
        return gdf
    gdf = gdf.copy()
    for col in numeric:
        values = gdf[col]
        if pd.api.types.is_float_dtype(values) and not (values.dropna() % 1 == 0).all():
            continue  # not codes; validate_layer reports it
        gdf[col] = values.astype("Int64").astype("string").astype(object).where(values.notna(), None)
    return gdf


def read_layer(
    path: str | Path,
    layer: str | None = None,
    *,
    encoding: str | None = None,
    crs: CRSInput = None,
    lon: str = "lon",
    lat: str = "lat",
    validate: bool = True,
) -> gpd.GeoDataFrame:
    """Read one layer into EPSG:4326, repaired and (for known layers) checked.

    Parameters
    ----------
    path
        A ``.gpkg``, ``.geojson``/``.json``, ``.shp``, ``.parquet``/``.geoparquet`` or ``.csv`` file.
    layer
        For a GeoPackage: the layer to read (needed when it holds several). For
        single-layer formats: the data-model layer the file holds (default: the
        file's stem). When it names a layer of :data:`gridgis.model.LAYERS`, the
        result is checked with :func:`~gridgis.model.validate_layer`.
    encoding
        Attribute encoding of a Shapefile or CSV, always used when given; default:
        what the file declares (``.cpg``, the .dbf code page byte, a UTF-8
        byte-order mark), else guessed (UTF-8 or GB18030) with a warning
        (:mod:`gridgis.io.encoding`).
    crs
        The CRS of the coordinates; overrides what the file declares (with a
        warning naming both). CSV files without it are taken as WGS84 lon/lat,
        with a warning; ``"gcj02"``/``"bd09"`` for Amap/Tencent/WeChat or Baidu
        coordinates, which are then converted.
    lon, lat
        Coordinate column names of a CSV file (a ``wkt`` column is used when they
        are absent).
    validate
        Check known layers against the data model (``gridgis inspect`` reports
        problems instead).

    Returns
    -------
    GeoDataFrame
        In EPSG:4326, index as in the file (rows with empty geometries dropped).

    Raises
    ------
    FileFormatError
        Missing, empty, truncated or unknown files; missing layers.
    CRSError
        No CRS; coordinates outside the declared CRS's area of use or outside
        China; swapped lon/lat.
    SchemaError, GeometryError
        A known layer that breaks the data model (wrong columns, duplicate ids...).

    Warns
    -----
    RepairWarning
        Invalid polygons repaired (counted), empty geometries dropped (rows named).
    CRSWarning
        Coordinates converted or reprojected to EPSG:4326.

    Examples
    --------
    >>> from gridgis.paths import HESHAN_OUTLINE
    >>> heshan = read_layer(HESHAN_OUTLINE)
    >>> heshan.crs.to_epsg(), heshan["division_code"].tolist()
    (4326, ['440784'])
    """
    frame, name = read_frame(path, layer, encoding=encoding, lon=lon, lat=lat)
    return prepare_layer(frame, name, source=str(path), crs=crs, validate=validate)


def prepare_layer(
    frame: gpd.GeoDataFrame, name: str, *, source: str, crs: CRSInput = None, validate: bool = True
) -> gpd.GeoDataFrame:
    """The steps after reading: CRS, repair, codes as text, validation (see :func:`read_layer`)."""
    if frame.crs is None and crs is None and Path(source).suffix.lower() == ".csv":
        warnings.warn(
            f"{source}: a CSV declares no CRS; its coordinates are taken as WGS84 lon/lat "
            "(declare --crs gcj02 for Amap/Tencent/WeChat, bd09 for Baidu).",
            CRSWarning,
            stacklevel=3,
        )
        crs = "EPSG:4326"
    frame = to_storage_crs(frame, source=source, crs=crs, default_crs=crs_is_default(source))
    frame = repair_geometries(frame, layer=name, source=source)
    frame = drop_empty(frame, layer=name, source=source)
    frame = _codes_as_text(frame)
    if validate and name in LAYERS:
        validate_layer(frame, name, source=source)
    return frame


def read_layers(
    path: str | Path,
    layers: Iterable[str] | None = None,
    *,
    encoding: str | None = None,
    crs: CRSInput = None,
    validate: bool = True,
) -> dict[str, gpd.GeoDataFrame]:
    """Read several layers of a GeoPackage (all by default), each as :func:`read_layer` does.

    Examples
    --------
    >>> import tempfile, os
    >>> from gridgis.paths import HESHAN_OUTLINE
    >>> out = os.path.join(tempfile.mkdtemp(), "a.gpkg")
    >>> from gridgis.io.write import write_layers
    >>> write_layers({"outline": read_layer(HESHAN_OUTLINE)}, out)
    >>> list(read_layers(out))
    ['outline']
    """
    names = list_file_layers(path)
    wanted = names if layers is None else list(layers)
    missing = [n for n in wanted if n not in names]
    if missing:
        raise FileFormatError(
            f"{path} has no layer(s) {listing(missing)}; it has {listing(names)}.",
            fix="write the missing layers into the GeoPackage.",
        )
    sizes = _sizes(path, wanted) if drawing() else dict.fromkeys(wanted, 1)
    out = {}
    with task(f"reading {Path(path).name}", total=sum(sizes.values())) as bar:
        for n in wanted:
            out[n] = read_layer(path, n, encoding=encoding, crs=crs, validate=validate)
            bar.advance(sizes[n])
    return out


def _sizes(path, layers: list[str]) -> dict[str, int]:
    """Features per layer of a GeoPackage, as progress units (at least 1: an empty layer still takes a
    step; 1 when GDAL cannot tell, the reading that follows reports any problem)."""
    sizes = {}
    for name in layers:
        try:
            sizes[name] = max(int(pyogrio.read_info(path, layer=name)["features"]), 1)
        except Exception:  # noqa: BLE001 (only the bar's units; GDAL raises many kinds)
            sizes[name] = 1
    return sizes
