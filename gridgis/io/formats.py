"""Per-format readers and writers (GeoPackage, GeoJSON, Shapefile, GeoParquet, CSV).

Readers return the frame with the CRS the file declares (or none) and raise
:class:`~gridgis.errors.FileFormatError` naming the file for anything GDAL,
pyarrow or pandas cannot read. Writers write to the path they are given
(:mod:`gridgis.io` makes that a temporary path and renames it).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError, FieldError, GeometryError

from gridgis.errors import CRSError, FileFormatError, SchemaError
from gridgis.io.encoding import detect_encoding, read_cpg
from gridgis.model import LAYERS

__all__ = ["FORMATS", "MULTI_LAYER", "file_format", "list_file_layers", "read_frame", "write_frame"]

#: file suffix -> format name
FORMATS = {
    ".gpkg": "GeoPackage",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".shp": "Shapefile",
    ".parquet": "GeoParquet",
    ".geoparquet": "GeoParquet",
    ".csv": "CSV",
}
#: formats holding several layers in one file
MULTI_LAYER = ("GeoPackage",)
_DRIVERS = {"GeoPackage": "GPKG", "GeoJSON": "GeoJSON", "Shapefile": "ESRI Shapefile"}
_GDAL_ERRORS = (DataSourceError, DataLayerError, FieldError, GeometryError, RuntimeError)
#: columns the data model holds as strings (division codes): kept as text when read from CSV
#: and turned back into text when a format stored them as numbers.
STRING_COLUMNS = sorted(
    {c for s in LAYERS.values() for c, kind in {**s.columns, **s.optional}.items() if kind == "str"} - {"name", "kind"}
)
#: model column names longer than a Shapefile's 10 characters (GDAL and ArcGIS truncate them).
_LONG_NAMES = {c for s in LAYERS.values() for c in (*s.columns, *s.optional) if len(c) > 10}


def file_format(path: str | Path) -> str:
    """The format of ``path`` from its suffix (see :data:`FORMATS`)."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise FileFormatError(
            f"{path}: unknown file type {suffix or '(no suffix)'!r}.",
            fix=f"use one of {sorted(FORMATS)}.",
        )
    return FORMATS[suffix]


def _unreadable(path: Path, exc: Exception, what: str = "cannot be read") -> FileFormatError:
    return FileFormatError(
        f"{path} {what}: {str(exc).strip() or type(exc).__name__}.",
        fix="check that the file is complete (not truncated) and of the type its suffix says; re-export it.",
    )


def check_readable(path: str | Path) -> Path:
    """Raise :class:`FileFormatError` for a missing, empty or unknown-type file."""
    path = Path(path)
    fmt = file_format(path)
    if not path.exists():
        raise FileFormatError(f"{path} does not exist.", fix="check the path.")
    if path.is_dir():
        raise FileFormatError(f"{path} is a directory, not a {fmt} file.", fix="name the file inside it.")
    if path.stat().st_size == 0:
        raise FileFormatError(
            f"{path} is empty (0 bytes).", fix="re-export the file; an interrupted copy leaves it empty."
        )
    return path


def list_file_layers(path: str | Path) -> list[str]:
    """Names of the layers in ``path`` (one, the file's stem, for single-layer formats)."""
    path = check_readable(path)
    if file_format(path) not in MULTI_LAYER:
        return [path.stem]
    try:
        layers = pyogrio.list_layers(path)
    except _GDAL_ERRORS as exc:
        raise _unreadable(path, exc) from exc
    if not len(layers):
        raise FileFormatError(f"{path} holds no layers.", fix="write at least one layer into it.")
    return [str(name) for name in layers[:, 0]]


def _restore_long_names(frame: pd.DataFrame) -> pd.DataFrame:
    renames = {}
    for col in frame.columns:
        matches = [name for name in _LONG_NAMES if len(col) == 10 and name.startswith(col)]
        if len(matches) == 1 and matches[0] not in frame.columns:
            renames[col] = matches[0]
    return frame.rename(columns=renames) if renames else frame


def _truncated(path: Path, expected: int, actual: int) -> FileFormatError:
    return FileFormatError(
        f"{path} is truncated: its header promises {expected:,} bytes, the file has {actual:,}.",
        fix="copy or export the Shapefile again (all of .shp .shx .dbf .prj).",
    )


def _check_shapefile_complete(path: Path) -> None:
    """GDAL reads a cut Shapefile as rows without geometry; compare the sizes its headers promise."""
    for part in (path, path.with_suffix(".shx")):
        if part.exists():
            with open(part, "rb") as fh:
                header = fh.read(28)
            size = part.stat().st_size
            # bytes 24-27: file length in 16-bit words, big-endian
            expected = int.from_bytes(header[24:28], "big") * 2 if len(header) == 28 else 100
            if size < expected:
                raise _truncated(part, expected, size)
    dbf = path.with_suffix(".dbf") if path.with_suffix(".dbf").exists() else path.with_suffix(".DBF")
    if not dbf.exists():
        raise FileFormatError(
            f"{path} has no .dbf attribute file next to it.",
            fix="copy all the Shapefile's files (.shp .shx .dbf .prj).",
        )
    with open(dbf, "rb") as fh:
        header = fh.read(12)
    size = dbf.stat().st_size
    # bytes 4-7: record count; 8-9: header length; 10-11: record length (little-endian)
    expected = (
        int.from_bytes(header[8:10], "little")
        + int.from_bytes(header[4:8], "little") * int.from_bytes(header[10:12], "little")
        if len(header) == 12
        else 32
    )
    if size < expected:
        raise _truncated(dbf, expected, size)


def _read_gdal(path: Path, fmt: str, layer: str | None, encoding: str | None) -> gpd.GeoDataFrame:
    if fmt == "Shapefile":
        _check_shapefile_complete(path)
        if encoding is None and read_cpg(path) is None:
            encoding = detect_encoding(path)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*has GPKG application_id.*")
            frame = pyogrio.read_dataframe(path, layer=layer, encoding=encoding)
    except (LookupError, UnicodeDecodeError) as exc:
        raise FileFormatError(
            f"{path}: cannot decode the attributes as {encoding!r}: {exc}.",
            fix="give the right encoding with --encoding (e.g. GBK, GB18030, UTF-8).",
        ) from exc
    except _GDAL_ERRORS as exc:
        raise _unreadable(path, exc) from exc
    if not isinstance(frame, gpd.GeoDataFrame):
        raise FileFormatError(
            f"{path}{f' layer {layer!r}' if layer else ''} has no geometry column.",
            fix="export it with its geometries (or as CSV with lon/lat columns).",
        )
    return _restore_long_names(frame) if fmt == "Shapefile" else frame


def _read_parquet(path: Path) -> gpd.GeoDataFrame:
    try:
        return gpd.read_parquet(path)
    except ValueError as exc:
        if "geo" in str(exc).lower():
            raise FileFormatError(
                f"{path} is a Parquet file without GeoParquet metadata: {exc}.",
                fix="write it with GeoDataFrame.to_parquet(), or export a CSV with lon/lat columns.",
            ) from exc
        raise _unreadable(path, exc) from exc
    except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for truncated files
        raise _unreadable(path, exc) from exc


def _check_csv_complete(path: Path, frame: pd.DataFrame) -> None:
    """A last line without its line end and with missing fields is a cut file, not a row without data."""
    with open(path, "rb") as fh:
        fh.seek(max(path.stat().st_size - 1, 0))
        ends_line = fh.read(1) in (b"\n", b"\r")
    if not ends_line and len(frame) and frame.iloc[-1].isna().any():
        raise FileFormatError(
            f"{path} looks truncated: its last line (row {len(frame) - 1}) stops before its end, "
            f"missing {list(frame.columns[frame.iloc[-1].isna()])}.",
            fix="copy or export the file again.",
        )


def _read_csv(path: Path, encoding: str | None, lon: str, lat: str) -> gpd.GeoDataFrame:
    encoding = encoding or detect_encoding(path)
    if encoding.lower().replace("-", "") == "utf8":
        encoding = "utf-8-sig"  # tolerate the byte-order mark Excel writes
    try:
        head = pd.read_csv(path, encoding=encoding, nrows=0)
        dtypes = {c: "string" for c in head.columns if c in STRING_COLUMNS}
        frame = pd.read_csv(path, encoding=encoding, dtype=dtypes)
    except (LookupError, UnicodeDecodeError) as exc:
        raise FileFormatError(
            f"{path}: cannot decode the text as {encoding!r}: {exc}.",
            fix="give the right encoding with --encoding (e.g. GBK, GB18030, UTF-8).",
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise FileFormatError(f"{path} holds no header and no rows.", fix="re-export the file.") from exc
    except pd.errors.ParserError as exc:
        raise _unreadable(path, exc, "is malformed") from exc
    _check_csv_complete(path, frame)
    if lon in frame.columns and lat in frame.columns:
        x = pd.to_numeric(frame[lon], errors="coerce")
        y = pd.to_numeric(frame[lat], errors="coerce")
        bad = x.isna() | y.isna()
        if bad.any():
            rows = frame.index[bad].tolist()
            values = frame.loc[bad, [lon, lat]].head(3).values.tolist()
            raise SchemaError(
                f"{path}: columns {lon!r}/{lat!r} are empty or not numbers at row(s) {rows[:10]}"
                f"{' and more' if len(rows) > 10 else ''} (values {values}).",
                fix="fill in or drop those rows (row numbers count data rows from 0).",
                details={"rows": rows[:10]},
            )
        geometry = gpd.points_from_xy(x, y)
        frame = frame.drop(columns=[lon, lat])
    elif "wkt" in frame.columns:
        geometry = shapely.from_wkt(frame["wkt"].astype(object).where(frame["wkt"].notna(), None), on_invalid="ignore")
        bad = frame["wkt"].notna().to_numpy() & shapely.is_missing(geometry)
        if bad.any():
            rows = frame.index[bad].tolist()
            raise SchemaError(
                f"{path}: column 'wkt' holds text that is not WKT at row(s) {rows[:10]}.",
                fix="correct those values.",
                details={"rows": rows[:10]},
            )
        frame = frame.drop(columns=["wkt"])
    else:
        raise SchemaError(
            f"{path} has no {lon!r}/{lat!r} columns (nor a 'wkt' column); it has {list(frame.columns)}.",
            fix="name the coordinate columns with --lon and --lat.",
            details={"columns": list(frame.columns)},
        )
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=None)


def read_frame(
    path: str | Path, layer: str | None, *, encoding: str | None, lon: str, lat: str
) -> tuple[gpd.GeoDataFrame, str]:
    """Read one layer as stored (declared CRS or none); return it and its layer name."""
    path = check_readable(path)
    fmt = file_format(path)
    if fmt in MULTI_LAYER:
        names = list_file_layers(path)
        if layer is None:
            if len(names) > 1:
                raise FileFormatError(
                    f"{path} holds {len(names)} layers {names}; which one?", fix="name one with --layer (layer=)."
                )
            layer = names[0]
        elif layer not in names:
            raise FileFormatError(f"{path} has no layer {layer!r}; it has {names}.", fix=f"use one of {names}.")
        return _read_gdal(path, fmt, layer, encoding), layer
    name = layer or path.stem
    if fmt == "GeoParquet":
        return _read_parquet(path), name
    if fmt == "CSV":
        return _read_csv(path, encoding, lon, lat), name
    return _read_gdal(path, fmt, None, encoding), name


def _csv_frame(gdf: gpd.GeoDataFrame, path: Path) -> pd.DataFrame:
    if gdf.crs is None or not gdf.crs.is_geographic:
        raise CRSError(
            f"Cannot write {path}: CSV holds lon/lat, but the layer is in {gdf.crs}.",
            fix="reproject it to EPSG:4326 first (gdf.to_crs('EPSG:4326')).",
        )
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    frame = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    if len(geoms) and (shapely.get_type_id(geoms) == shapely.GeometryType.POINT).all():
        frame["lon"] = shapely.get_x(geoms)
        frame["lat"] = shapely.get_y(geoms)
    else:
        frame["wkt"] = shapely.to_wkt(geoms, rounding_precision=-1)
    return frame


def _check_shapefile_names(gdf: gpd.GeoDataFrame, path: Path) -> None:
    short: dict[str, list[str]] = {}
    for col in gdf.columns:
        if col != gdf.geometry.name:
            short.setdefault(col[:10].lower(), []).append(col)
    clashes = [cols for cols in short.values() if len(cols) > 1]
    if clashes:
        raise SchemaError(
            f"Cannot write {path}: Shapefile column names are cut to 10 characters and {clashes} would clash.",
            fix="rename the columns, or write a GeoPackage (.gpkg).",
        )


def write_frame(gdf: gpd.GeoDataFrame, path: Path, fmt: str, layer: str | None = None) -> None:
    """Write ``gdf`` to ``path`` (a temporary path chosen by the caller) in format ``fmt``."""
    try:
        if fmt == "GeoParquet":
            gdf.to_parquet(path)
        elif fmt == "CSV":
            _csv_frame(gdf, path).to_csv(path, index=False, encoding="utf-8-sig")
        else:
            kwargs = {}
            if fmt == "Shapefile":
                _check_shapefile_names(gdf, path)
                kwargs["encoding"] = "UTF-8"
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*(truncated|Normalized/laundered).*")
                pyogrio.write_dataframe(gdf, path, layer=layer, driver=_DRIVERS[fmt], **kwargs)
    except _GDAL_ERRORS as exc:
        raise FileFormatError(
            f"Cannot write layer {layer or path.stem!r} as {fmt}: {exc}.",
            fix="write a GeoPackage (.gpkg), which takes any columns and geometry types.",
        ) from exc
