"""CSV files with lon/lat columns (or a ``wkt`` column): reading and the frame written.

Text is decoded as UTF-8 (a byte-order mark tolerated) or, when it is not
valid UTF-8, GB18030; division-code columns stay text. Files are written as
UTF-8 with a byte-order mark, so that Excel shows Chinese text.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgis.errors import CRSError, FileFormatError, SchemaError
from gridgis.io.encoding import decode_error, detect_encoding
from gridgis.model import LAYERS

__all__ = ["STRING_COLUMNS", "read_csv", "to_csv_frame"]

#: columns the data model holds as strings (division codes): kept as text when read from CSV
#: and turned back into text when a format stored them as numbers.
STRING_COLUMNS = sorted(
    {c for s in LAYERS.values() for c, kind in {**s.columns, **s.optional}.items() if kind == "str"} - {"name", "kind"}
)


def _check_complete(path: Path, frame: pd.DataFrame) -> None:
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


def read_csv(path: Path, encoding: str | None, lon: str, lat: str) -> gpd.GeoDataFrame:
    """Read a CSV of points (columns ``lon``/``lat``) or shapes (a ``wkt`` column), without a CRS."""
    encoding = encoding or detect_encoding(path)
    if encoding.lower().replace("-", "") == "utf8":
        encoding = "utf-8-sig"  # tolerate the byte-order mark Excel writes
    try:
        head = pd.read_csv(path, encoding=encoding, nrows=0)
        dtypes = {c: "string" for c in head.columns if c in STRING_COLUMNS}
        frame = pd.read_csv(path, encoding=encoding, dtype=dtypes)
    except (LookupError, UnicodeDecodeError) as exc:
        raise decode_error(path, encoding, exc, "text") from exc
    except pd.errors.EmptyDataError as exc:
        raise FileFormatError(f"{path} holds no header and no rows.", fix="re-export the file.") from exc
    except pd.errors.ParserError as exc:
        raise FileFormatError(
            f"{path} is malformed: {exc}.", fix="check that the file is complete and comma-separated; re-export it."
        ) from exc
    _check_complete(path, frame)
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


def to_csv_frame(gdf: gpd.GeoDataFrame, path: Path) -> pd.DataFrame:
    """The table to write as CSV for ``gdf`` (in lon/lat): ``lon``/``lat`` columns for points, else ``wkt``."""
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
