"""Per-format readers and writers (GeoPackage, GeoJSON, Shapefile, GeoParquet, CSV).

Readers return the frame with the CRS the file declares (or none) and raise
:class:`~gridgis.errors.FileFormatError` naming the file for anything GDAL,
pyarrow or pandas cannot read. Writers write to the path they are given
(:mod:`gridgis.io` makes that a temporary path and renames it).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyarrow
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError, FieldError, GeometryError

from gridgis.errors import FileFormatError, FileWarning
from gridgis.io.encoding import decode_error, gdal_encoding
from gridgis.io.lonlat_csv import read_csv, to_csv_frame
from gridgis.io.shapefile import check_complete, restore_long_names
from gridgis.listing import brief, listing

__all__ = [
    "DRIVERS",
    "FORMATS",
    "MULTI_LAYER",
    "WRITE_ONLY",
    "check_geopackage",
    "check_readable",
    "crs_is_default",
    "file_format",
    "gdal_write_options",
    "list_file_layers",
    "read_frame",
    "resolve_layer",
    "unreadable",
    "write_frame",
]

#: file suffix -> format name
FORMATS = {
    ".gpkg": "GeoPackage",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".shp": "Shapefile",
    ".parquet": "GeoParquet",
    ".geoparquet": "GeoParquet",
    ".csv": "CSV",
    ".kml": "KML",
}
#: formats written but not read (a spreadsheet for people, not a data source)
WRITE_ONLY = {".xlsx": "XLSX"}
#: formats holding several layers in one file
MULTI_LAYER = ("GeoPackage",)
#: format name -> GDAL driver (the formats pyogrio reads and writes)
DRIVERS = {"GeoPackage": "GPKG", "GeoJSON": "GeoJSON", "Shapefile": "ESRI Shapefile", "KML": "KML"}
_GDAL_ERRORS = (DataSourceError, DataLayerError, FieldError, GeometryError, RuntimeError, OSError, ValueError)
#: bytes read to tell a GeoJSON's own ``crs`` member from GDAL's default (RFC 7946: WGS84)
_CRS_SNIFF = 1 << 20


def file_format(path: str | Path, *, writing: bool = False) -> str:
    """The format of ``path`` from its suffix (see :data:`FORMATS`; with ``writing`` also :data:`WRITE_ONLY`)."""
    suffix = Path(path).suffix.lower()
    known = {**FORMATS, **WRITE_ONLY} if writing else FORMATS
    if suffix not in known:
        raise FileFormatError(
            f"{path}: unknown file type {brief(suffix, 20) or '(no suffix)'!r}.",
            fix=f"use one of {sorted(known)}.",
        )
    return known[suffix]


def unreadable(path: Path, exc: BaseException, what: str = "cannot be read") -> FileFormatError:
    """The error for a file a library (GDAL, pyarrow, pandas) could not read, quoting its error briefly."""
    text = str(exc).strip().replace(str(path.resolve()), path.name).replace(str(path), path.name)
    text = text or type(exc).__name__
    text = text.split("Original Message:")[-1].strip()  # dask wraps the reader's error
    if "not recognized as being in a supported file format" in text:
        fmt = FORMATS.get(path.suffix.lower(), "data")
        text = f"GDAL does not recognise it as {'an' if fmt[0] in 'AEIOU' else 'a'} {fmt} file"
    return FileFormatError(
        f"{path} {what}: {brief(text, 160).rstrip('.')}.",
        fix="check that the file is complete (not truncated) and of the type its suffix says; re-export it.",
    )


def crs_is_default(path: str | Path) -> bool:
    """Whether the CRS GDAL reports for ``path`` is the format's default, not declared by the file.

    A GeoJSON without a ``crs`` member is WGS84 by definition (RFC 7946), so GDAL reports
    EPSG:4326 whatever the coordinates are.
    """
    path = Path(path)
    if FORMATS.get(path.suffix.lower()) not in ("GeoJSON", "KML") or not path.is_file():
        return False
    if FORMATS[path.suffix.lower()] == "KML":
        return True
    with open(path, "rb") as fh:
        return b'"crs"' not in fh.read(_CRS_SNIFF)


def check_readable(path: str | Path) -> Path:
    """Raise :class:`FileFormatError` for a missing, empty or unknown-type file."""
    path = Path(path)
    fmt = file_format(path)
    if not path.exists():
        raise FileFormatError(f"{path} does not exist.", fix="check the path.")
    if path.is_dir():
        raise FileFormatError(f"{path} is a directory, not a {fmt} file.", fix="name the file inside it.")
    if not os.access(path, os.R_OK):
        raise FileFormatError(f"{path} cannot be read: permission denied.", fix="check the file's permissions.")
    if path.stat().st_size == 0:
        raise FileFormatError(
            f"{path} is empty (0 bytes).", fix="re-export the file; an interrupted copy leaves it empty."
        )
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if not head.strip(b"\x00"):
        raise FileFormatError(
            f"{path} starts with {len(head):,} NUL bytes: it is not a {fmt} file (a damaged copy?).",
            fix="copy or export the file again.",
        )
    if fmt == "Shapefile":
        check_complete(path)
    return path


def check_geopackage(path: str | Path, what: str) -> Path:
    """Raise :class:`FileFormatError` unless ``path`` is a readable GeoPackage (``what`` it should hold, for the
    message: "a plan", "the city layers")."""
    path = check_readable(path)
    fmt = file_format(path)
    if fmt not in MULTI_LAYER:
        raise FileFormatError(
            f"{path} is a {fmt} file; {what} is a GeoPackage (.gpkg) holding several layers.",
            fix="pass the .gpkg file (gridgis inspect FILE shows what a file holds).",
        )
    list_file_layers(path)
    return path


def list_file_layers(path: str | Path) -> list[str]:
    """Names of the layers in ``path`` (one, the file's stem, for single-layer formats)."""
    path = check_readable(path)
    if file_format(path) not in MULTI_LAYER:
        return [path.stem]
    try:
        layers = pyogrio.list_layers(path)
    except Exception as exc:  # GDAL fails in many ways on a damaged file
        raise unreadable(path, exc) from exc
    if not len(layers):
        raise FileFormatError(f"{path} holds no layers.", fix="write at least one layer into it.")
    return [str(name) for name in layers[:, 0]]


def _read_gdal(path: Path, fmt: str, layer: str | None, encoding: str | None) -> gpd.GeoDataFrame:
    encoding = gdal_encoding(path, fmt, encoding)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*has GPKG application_id.*")
            frame = pyogrio.read_dataframe(path, layer=layer, encoding=encoding)
    except UnicodeDecodeError as exc:
        if fmt != "Shapefile" or (encoding or "").upper().replace("-", "") != "UTF8":
            raise decode_error(path, encoding or "UTF-8", exc) from exc
        frame = _read_cut_names(path, exc)
    except LookupError as exc:
        raise decode_error(path, encoding or "UTF-8", exc) from exc
    except FileFormatError:
        raise
    except Exception as exc:  # GDAL fails in many ways on a damaged file
        raise unreadable(path, exc) from exc
    if not isinstance(frame, gpd.GeoDataFrame):
        raise FileFormatError(
            f"{path}{f' layer {layer!r}' if layer else ''} has no geometry column.",
            fix="export it with its geometries (or as CSV with lon/lat columns).",
        )
    return restore_long_names(frame, path) if fmt == "Shapefile" else frame


def _read_cut_names(path: Path, exc: UnicodeDecodeError) -> gpd.GeoDataFrame:
    """A UTF-8 Shapefile whose writer cut column names inside a character (所属社\xe5\x8c): the names without
    the broken tail, with a warning; values must still be UTF-8."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            frame = pyogrio.read_dataframe(path, encoding="ISO-8859-1")
    except _GDAL_ERRORS as again:
        raise unreadable(path, again) from again
    renames = {}
    for col in frame.columns:
        if col != frame.geometry.name:
            raw = col.encode("latin-1")
            renames[col] = raw.decode("utf-8", errors="ignore")
            if len(raw.decode("utf-8", errors="ignore").encode()) < len(raw) - 3:
                raise decode_error(path, "UTF-8", exc, "column names")
    try:
        for col in renames:
            if not pd.api.types.is_numeric_dtype(frame[col]):
                frame[col] = frame[col].map(lambda v: v.encode("latin-1").decode("utf-8") if isinstance(v, str) else v)
    except UnicodeError as bad:
        raise decode_error(path, "UTF-8", bad) from bad
    cut = [new for old, new in renames.items() if new.encode() != old.encode("latin-1")]
    if len(set(renames.values())) < len(renames):
        raise decode_error(path, "UTF-8", exc, "column names")
    warnings.warn(
        f"{path}: column name(s) {listing(cut)} were cut inside a character by the program that wrote the file; "
        "read without the broken tail.",
        FileWarning,
        stacklevel=4,
    )
    return frame.rename(columns=renames)


def _read_parquet(path: Path) -> gpd.GeoDataFrame:
    try:
        return gpd.read_parquet(path)
    except ValueError as exc:
        if "geo" in str(exc).lower():
            raise FileFormatError(
                f"{path} is a Parquet file without GeoParquet metadata: {brief(exc, 120)}.",
                fix="write it with GeoDataFrame.to_parquet(), or export a CSV with lon/lat columns.",
            ) from exc
        raise unreadable(path, exc) from exc
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for truncated files
        raise unreadable(path, exc) from exc


def resolve_layer(path: str | Path, layer: str | None) -> str:
    """The layer of ``path`` to read: ``layer`` checked against a GeoPackage's layers (the only one when None);
    for single-layer formats ``layer`` itself, else the file's stem."""
    path = Path(path)
    if file_format(path) not in MULTI_LAYER:
        return layer or path.stem
    names = list_file_layers(path)
    if layer is None:
        if len(names) > 1:
            raise FileFormatError(
                f"{path} holds {len(names)} layers {names}; which one?", fix="name one with --layer (layer=)."
            )
        return names[0]
    if layer not in names:
        raise FileFormatError(
            f"{path} has no layer {brief(layer, 40)!r}; it has {listing(names)}.",
            fix="name one of them with --layer.",
        )
    return layer


def read_frame(
    path: str | Path, layer: str | None, *, encoding: str | None, lon: str, lat: str
) -> tuple[gpd.GeoDataFrame, str]:
    """Read one layer as stored (declared CRS or none); return it and its layer name."""
    path = check_readable(path)
    fmt = file_format(path)
    name = resolve_layer(path, layer)
    if fmt in MULTI_LAYER:
        return _read_gdal(path, fmt, name, encoding), name
    if fmt == "GeoParquet":
        return _read_parquet(path), name
    if fmt == "CSV":
        return read_csv(path, encoding, lon, lat), name
    return _read_gdal(path, fmt, None, encoding), name


def gdal_write_options(fmt: str, gdf: gpd.GeoDataFrame) -> dict:
    """Options GDAL needs to write ``fmt``: UTF-8 Shapefiles; KML placemarks named by the layer's id or name."""
    if fmt == "Shapefile":
        return {"encoding": "UTF-8"}
    if fmt == "KML":
        label = next((c for c in ("name", "grid_code", "grid_id") if c in gdf.columns), None)
        return {"dataset_options": {"NameField": label}} if label else {}
    return {}


def write_frame(gdf: gpd.GeoDataFrame, path: Path, fmt: str, *, layer: str | None, name: str) -> None:
    """Write ``gdf`` to ``path`` (a temporary path chosen by the caller) in format ``fmt``.

    ``layer`` is the layer name inside a GeoPackage (None for other formats);
    ``name`` is the layer's name in error messages.
    """
    try:
        if fmt == "GeoParquet":
            gdf.to_parquet(path)
        elif fmt == "CSV":
            to_csv_frame(gdf, path).to_csv(path, index=False, encoding="utf-8-sig")
        else:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*Normalized/laundered.*")
                pyogrio.write_dataframe(gdf, path, layer=layer, driver=DRIVERS[fmt], **gdal_write_options(fmt, gdf))
    except (*_GDAL_ERRORS, pyarrow.ArrowException) as exc:
        raise FileFormatError(
            f"Cannot write layer {name!r} as {fmt}: {brief(exc, 160)}.",
            fix="write a GeoPackage (.gpkg), which takes any columns and geometry types.",
        ) from exc
