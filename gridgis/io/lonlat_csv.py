"""CSV files with lon/lat columns (or a ``wkt`` column): reading and the frame written.

Text is decoded as UTF-8 (a byte-order mark tolerated) or, when it is not
valid UTF-8, GB18030; division-code columns stay text. Files are written as
UTF-8 with a byte-order mark, so that Excel shows Chinese text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridgis.errors import CRSError, FileFormatError, SchemaError
from gridgis.io.encoding import decode_error, resolve_encoding
from gridgis.listing import brief, listing
from gridgis.model import LAYERS

__all__ = ["MAX_LINE", "STRING_COLUMNS", "check_text", "iter_csv", "read_csv", "to_csv_frame"]

#: columns the data model holds as strings (division codes): kept as text when read from CSV
#: and turned back into text when a format stored them as numbers.
STRING_COLUMNS = sorted(
    {c for s in LAYERS.values() for c, kind in {**s.columns, **s.optional}.items() if kind == "str"} - {"name", "kind"}
)


#: longest line a CSV may hold (a WKT polygon of a town with every vertex fits); longer is not a table
MAX_LINE = 32 << 20
_CHUNK = 1 << 20


def check_text(path: Path) -> None:
    """Refuse a CSV that is not line-oriented text: NUL bytes (a binary file) or a line over :data:`MAX_LINE` bytes.

    Reads the file once in 1 MiB blocks (bounded memory) and stops at the first offence.
    """
    run = 0  # bytes of the line still open at the end of the previous block
    offset = 0
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            nul = block.find(b"\x00")
            if nul >= 0:
                raise FileFormatError(
                    f"{path} holds a NUL byte at byte {offset + nul:,}: it is a binary file, not CSV text.",
                    fix="export the table again as CSV (UTF-8 or GBK text); the copy may be damaged.",
                )
            lines = block.replace(b"\r", b"\n").split(b"\n")
            if offset == 0 and len(lines) == 1 and len(block) == _CHUNK:
                raise FileFormatError(
                    f"{path}: its first line (the header) runs past {_CHUNK >> 20} MiB: not a CSV table.",
                    fix="check that the file is a comma-separated table with a header line; re-export it.",
                )
            longest = run + len(lines[0])
            if len(lines) == 1:
                run = longest
            else:
                longest = max(longest, *map(len, lines[1:]))
                run = len(lines[-1])
            if longest > MAX_LINE:
                raise FileFormatError(
                    f"{path} has a line longer than {MAX_LINE >> 20} MiB near byte {offset:,}: not a CSV table.",
                    fix="check that the file is a comma-separated table with one row per line; re-export it.",
                )
            offset += len(block)


def _check_complete(path: Path, frame: pd.DataFrame) -> None:
    """A last line without its line end and with missing fields is a cut file, not a row without data."""
    with open(path, "rb") as fh:
        fh.seek(max(path.stat().st_size - 1, 0))
        ends_line = fh.read(1) in (b"\n", b"\r")
    if not ends_line and len(frame) and frame.iloc[-1].isna().any():
        raise FileFormatError(
            f"{path} looks truncated: its last line (row {frame.index[-1]}) stops before its end, "
            f"missing {listing(frame.columns[frame.iloc[-1].isna()])}.",
            fix="copy or export the file again.",
        )


def _tables(path: Path, encoding: str, chunk_size: int | None) -> Iterator[pd.DataFrame]:
    """The table of ``path`` as stored (division codes as text), whole or in chunks of ``chunk_size`` rows."""
    try:
        head = pd.read_csv(path, encoding=encoding, nrows=0)
        dtypes = {c: "string" for c in head.columns if c in STRING_COLUMNS}
        if chunk_size is None:
            yield pd.read_csv(path, encoding=encoding, dtype=dtypes)
            return
        empty = True
        with pd.read_csv(path, encoding=encoding, dtype=dtypes, chunksize=chunk_size) as reader:
            for frame in reader:
                empty = False
                yield frame
        if empty:
            yield head
    except (LookupError, UnicodeDecodeError) as exc:
        raise decode_error(path, encoding, exc, "text") from exc
    except pd.errors.EmptyDataError as exc:
        raise FileFormatError(f"{path} holds no header and no rows.", fix="re-export the file.") from exc
    except (pd.errors.ParserError, ValueError, OverflowError, MemoryError) as exc:
        raise FileFormatError(
            f"{path} is malformed: {brief(exc, 160)}.",
            fix="check that the file is complete and comma-separated; re-export it.",
        ) from exc


def read_csv(path: Path, encoding: str | None, lon: str, lat: str) -> gpd.GeoDataFrame:
    """Read a CSV of points (columns ``lon``/``lat``) or shapes (a ``wkt`` column), without a CRS."""
    return next(iter_csv(path, encoding, lon, lat, None))


def iter_csv(
    path: Path, encoding: str | None, lon: str, lat: str, chunk_size: int | None
) -> Iterator[gpd.GeoDataFrame]:
    """Read a CSV as :func:`read_csv` does, in chunks of ``chunk_size`` rows (whole when None); rows keep
    their file positions (0, 1, ... counting data rows) as labels. Memory holds one chunk at a time."""
    check_text(path)
    encoding = resolve_encoding(path, encoding)
    if encoding.lower().replace("-", "") == "utf8":
        encoding = "utf-8-sig"  # tolerate the byte-order mark Excel writes
    last = None
    for frame in _tables(path, encoding, chunk_size):
        if last is not None:
            yield _geometries(path, last, lon, lat)
        last = frame
    _check_complete(path, last)
    yield _geometries(path, last, lon, lat)


def _geometries(path: Path, frame: pd.DataFrame, lon: str, lat: str) -> gpd.GeoDataFrame:
    if lon in frame.columns and lat in frame.columns:
        x = pd.to_numeric(frame[lon], errors="coerce")
        y = pd.to_numeric(frame[lat], errors="coerce")
        bad = x.isna() | y.isna()
        if bad.any():
            rows = frame.index[bad].tolist()
            values = [[brief(v, 20) for v in pair] for pair in frame.loc[bad, [lon, lat]].head(3).values.tolist()]
            raise SchemaError(
                f"{path}: columns {lon!r}/{lat!r} are empty or not numbers at row(s) {listing(rows)} "
                f"(values {values}).",
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
                f"{path}: column 'wkt' holds text that is not WKT at row(s) {listing(rows)}.",
                fix="correct those values.",
                details={"rows": rows[:10]},
            )
        frame = frame.drop(columns=["wkt"])
    else:
        raise SchemaError(
            f"{path} has no {brief(lon, 40)!r}/{brief(lat, 40)!r} columns (nor a 'wkt' column); "
            f"it has {listing(frame.columns)}.",
            fix="name the coordinate columns with --lon and --lat.",
            details={"columns": [brief(c, 40) for c in frame.columns[:20]]},
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
