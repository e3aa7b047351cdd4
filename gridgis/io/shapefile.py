"""Shapefile specifics: completeness checks, and model column names cut to 10 characters.

GDAL reads a cut Shapefile as rows without geometry, so the sizes its headers
promise are compared with the files first. dBASE column names hold 10
characters: GDAL and ArcGIS cut ``community_id`` to ``community_``; reading
restores the model's names, writing refuses names that would clash.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from gridgis.errors import FileFormatError, SchemaError
from gridgis.model import LAYERS

__all__ = ["check_complete", "check_names", "restore_long_names"]

#: model column names longer than a Shapefile's 10 characters
_LONG_NAMES = {c for s in LAYERS.values() for c in (*s.columns, *s.optional) if len(c) > 10}


def restore_long_names(frame: pd.DataFrame) -> pd.DataFrame:
    """Rename 10-character columns that are the cut form of exactly one model column (``community_``).

    Examples
    --------
    >>> list(restore_long_names(pd.DataFrame(columns=["community_", "households"])).columns)
    ['community_id', 'households']
    """
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


def check_complete(path: Path) -> None:
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


def check_names(gdf: gpd.GeoDataFrame, path: Path) -> None:
    """Raise :class:`SchemaError` when two columns would get the same 10-character name."""
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
