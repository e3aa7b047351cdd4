"""Reading and writing layers: GeoPackage, GeoJSON, Shapefile, GeoParquet, CSV with lon/lat.

Every read goes through the same steps: read the file as stored
(:mod:`gridgis.io.formats`; Shapefile/CSV encoding detected, see
:mod:`gridgis.io.encoding`) -> bring it to EPSG:4326 with its coordinates
checked (:mod:`gridgis.io.reproject`) -> repair invalid polygons and drop empty
geometries with warnings (:mod:`gridgis.repair`) -> turn division codes back
into text -> check known layers against the data model
(:func:`gridgis.model.validate_layer`).

Files larger than memory are read and written in chunks the same way
(:mod:`gridgis.io.stream`: :func:`iter_features`, :func:`write_chunks`).

Every write is atomic (:mod:`gridgis.io.atomic`): a temporary file in the
target directory, then ``os.replace``; a failed write leaves no output behind.
The format comes from the file suffix (:data:`FORMATS`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyproj

from gridgis.errors import CRSError, CRSWarning, FileFormatError, InputError
from gridgis.io import shapefile
from gridgis.io.atomic import atomic_dir, atomic_path
from gridgis.io.formats import FORMATS, MULTI_LAYER, file_format, list_file_layers, read_frame, write_frame
from gridgis.io.lonlat_csv import STRING_COLUMNS
from gridgis.io.reproject import parse_crs, to_storage_crs
from gridgis.model import LAYERS, validate_layer
from gridgis.repair import drop_empty, repair_geometries

__all__ = [
    "DEFAULT_CHUNK",
    "FORMATS",
    "count_features",
    "file_format",
    "iter_features",
    "list_layers",
    "parse_crs",
    "prepare_layer",
    "read_layer",
    "read_layers",
    "to_storage_crs",
    "write_chunks",
    "write_layer",
    "write_layers",
]

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
        Attribute encoding of a Shapefile or CSV; default: the ``.cpg`` file, else
        UTF-8 when the bytes are valid UTF-8, else GB18030 (covers GBK).
    crs
        The CRS of the coordinates when the file declares none (CSV files are
        taken as WGS84 lon/lat, with a warning), or ``"gcj02"``/``"bd09"`` for
        Amap/Tencent/WeChat or Baidu coordinates, which are then converted.
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
    frame = to_storage_crs(frame, source=source, crs=crs)
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
    >>> write_layers({"outline": read_layer(HESHAN_OUTLINE)}, out)
    >>> list(read_layers(out))
    ['outline']
    """
    names = list_file_layers(path)
    wanted = names if layers is None else list(layers)
    missing = [n for n in wanted if n not in names]
    if missing:
        raise FileFormatError(f"{path} has no layer(s) {missing}; it has {names}.", fix=f"use some of {names}.")
    return {n: read_layer(path, n, encoding=encoding, crs=crs, validate=validate) for n in wanted}


def _check_writable(gdf: gpd.GeoDataFrame, name: str) -> None:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError(f"Layer {name!r} is a {type(gdf).__name__}, not a GeoDataFrame.", fix="pass a GeoDataFrame.")
    if gdf.crs is None:
        raise CRSError(f"Layer {name!r} has no CRS; it would be written without one.", fix="set it (gdf.set_crs(...)).")


def _rewrap(exc: FileFormatError, path: Path) -> FileFormatError:
    return FileFormatError(f"{path}: {exc.message} Nothing was written.", fix=exc.fix, details=exc.details)


def _os_error(exc: OSError, path: Path) -> FileFormatError:
    return FileFormatError(
        f"Cannot write {path}: {exc.strerror or exc}. Nothing was written.",
        fix="check that the directory is writable and the disk has space.",
    )


def write_layer(gdf: gpd.GeoDataFrame, path: str | Path, layer: str | None = None) -> None:
    """Write one layer atomically; the format comes from the suffix.

    For a GeoPackage, ``layer`` (default: the file's stem) is added to the file,
    or replaces the layer of that name; the other layers are kept. Other
    formats hold one layer and are replaced whole. CSV files get ``lon``/``lat``
    columns for points and a ``wkt`` column otherwise, UTF-8 with a byte-order
    mark (so that Excel shows Chinese text).

    Raises
    ------
    FileFormatError
        Unknown suffix, or a layer the format cannot hold; no file is left behind.
    CRSError
        A layer without a CRS.

    Examples
    --------
    >>> import tempfile, os
    >>> from gridgis.paths import HESHAN_OUTLINE
    >>> out = os.path.join(tempfile.mkdtemp(), "heshan.parquet")
    >>> write_layer(read_layer(HESHAN_OUTLINE), out)
    >>> len(read_layer(out))
    1
    """
    path = Path(path)
    fmt = file_format(path)
    name = layer or path.stem
    _check_writable(gdf, name)
    try:
        if fmt == "Shapefile":
            shapefile.check_names(gdf, path)
            with atomic_dir(path) as tmp:
                write_frame(gdf, tmp / path.name, fmt, layer=None, name=name)
        else:
            with atomic_path(path, copy_existing=fmt in MULTI_LAYER) as tmp:
                write_frame(gdf, tmp, fmt, layer=name if fmt in MULTI_LAYER else None, name=name)
    except FileFormatError as exc:
        raise _rewrap(exc, path) from exc
    except OSError as exc:
        raise _os_error(exc, path) from exc


def write_layers(layers: Mapping[str, gpd.GeoDataFrame], path: str | Path) -> None:
    """Write several layers into one new GeoPackage atomically (replacing ``path``).

    Raises
    ------
    FileFormatError
        ``path`` is not a ``.gpkg``, or a layer cannot be written; no file is left behind.

    Examples
    --------
    >>> import tempfile, os
    >>> from gridgis.paths import HESHAN_OUTLINE
    >>> out = os.path.join(tempfile.mkdtemp(), "two.gpkg")
    >>> outline = read_layer(HESHAN_OUTLINE)
    >>> write_layers({"a": outline, "b": outline}, out)
    >>> list_layers(out)
    ['a', 'b']
    """
    path = Path(path)
    fmt = file_format(path)
    if fmt not in MULTI_LAYER:
        raise FileFormatError(
            f"{path}: a {fmt} file holds one layer, not {len(layers)}.",
            fix="write a GeoPackage (.gpkg), or one file per layer with write_layer().",
        )
    if not layers:
        raise InputError(f"No layers to write to {path}.", fix="pass at least one layer.")
    for name, gdf in layers.items():
        _check_writable(gdf, name)
    try:
        with atomic_path(path) as tmp:
            for name, gdf in layers.items():
                write_frame(gdf, tmp, fmt, layer=name, name=name)
    except FileFormatError as exc:
        raise _rewrap(exc, path) from exc
    except OSError as exc:
        raise _os_error(exc, path) from exc


# Last: the chunked reader prepares each chunk with prepare_layer/read_layer above.
from gridgis.io.stream import DEFAULT_CHUNK, count_features, iter_features, write_chunks  # noqa: E402
