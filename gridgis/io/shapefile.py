"""Shapefile specifics: its side files, and column names that a .dbf holds in 10 bytes.

GDAL reads a cut Shapefile as rows without geometry, so the sizes its headers
promise are compared with the files first; a missing ``.shx`` or ``.dbf`` is an
error naming what would be lost (a missing ``.prj`` is a CRS error, see
:mod:`gridgis.io.reproject`).

dBASE column names hold 10 bytes (UTF-8: three Chinese characters). Writing
cuts each name on a character boundary, makes the cut names unique (``_1``,
``_2``...), writes the mapping beside the file (``<stem>.fields.csv``: columns
``field,name``) and warns; reading restores the names from that file, and cut
model names (``community_`` -> ``community_id``) without it.
"""

from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path

import pandas as pd

from gridgis.errors import FileFormatError, FileWarning
from gridgis.listing import listing
from gridgis.model import LAYERS

__all__ = ["FIELD_BYTES", "MAPPING_SUFFIX", "check_complete", "field_names", "restore_long_names", "write_mapping"]

#: bytes a .dbf field name holds
FIELD_BYTES = 10
#: suffix of the file mapping cut field names to the full column names
MAPPING_SUFFIX = ".fields.csv"
#: model column names longer than a Shapefile's 10 characters
_LONG_NAMES = {c for s in LAYERS.values() for c in (*s.columns, *s.optional) if len(c) > FIELD_BYTES}
_PARTS = "(.shp .shx .dbf .prj .cpg)"


def _cut(name: str, limit: int, encoding: str = "utf-8") -> str:
    """``name`` cut to at most ``limit`` bytes in ``encoding``, never inside a character."""
    out = ""
    for ch in name:
        if len((out + ch).encode(encoding, errors="replace")) > limit:
            break
        out += ch
    return out


def field_names(columns: list[str], encoding: str = "utf-8") -> dict[str, str]:
    """Column name -> .dbf field name: cut to :data:`FIELD_BYTES` bytes on character boundaries, unique
    ignoring case (a cut name that repeats gets ``_1``, ``_2``... in its last bytes).

    Examples
    --------
    >>> field_names(["所属社区编码", "所属社区名称", "households"])
    {'所属社区编码': '所属社', '所属社区名称': '所属_1', 'households': 'households'}
    """
    out: dict[str, str] = {}
    taken: set[str] = set()
    for col in columns:
        short = _cut(col, FIELD_BYTES, encoding)
        n = 0
        while not short or short.lower() in taken:
            n += 1
            tail = f"_{n}"
            short = _cut(col, FIELD_BYTES - len(tail), encoding) + tail
        taken.add(short.lower())
        out[col] = short
    return out


def write_mapping(path: Path, names: dict[str, str], *, target: Path | None = None) -> None:
    """Write ``<stem>.fields.csv`` next to the Shapefile ``path`` and warn, when a column name was cut.

    ``target`` is the name quoted in the warning (the final path when ``path`` is a temporary one).
    """
    cut = {col: short for col, short in names.items() if col != short}
    if not cut:
        return
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["field", "name"])
    writer.writerows((short, col) for col, short in names.items())
    path.with_name(path.stem + MAPPING_SUFFIX).write_text(text.getvalue(), encoding="utf-8")
    target = target or path
    shown = listing([f"{col} -> {short}" for col, short in cut.items()], 5)
    warnings.warn(
        f"{target}: a Shapefile holds column names of {FIELD_BYTES} bytes; {len(cut)} cut ({shown}). "
        f"The full names are in {target.stem}{MAPPING_SUFFIX} (gridgis reads them back); "
        "a GeoPackage (.gpkg) keeps them as they are.",
        FileWarning,
        stacklevel=3,
    )


def _mapping(path: Path) -> dict[str, str]:
    side = path.with_name(path.stem + MAPPING_SUFFIX)
    if not side.is_file() or side.stat().st_size > 1 << 20:
        return {}
    try:
        rows = list(csv.reader(side.read_text(encoding="utf-8-sig").splitlines()))
    except (UnicodeDecodeError, csv.Error):
        return {}
    return {r[0]: r[1] for r in rows[1:] if len(r) == 2 and rows[0] == ["field", "name"]}


def restore_long_names(frame: pd.DataFrame, path: Path | None = None) -> pd.DataFrame:
    """Full column names back: from ``<stem>.fields.csv`` next to ``path`` when present, else 10-character
    columns that are the cut form of exactly one model column (``community_``).

    Examples
    --------
    >>> list(restore_long_names(pd.DataFrame(columns=["community_", "households"])).columns)
    ['community_id', 'households']
    """
    mapping = _mapping(path) if path is not None else {}
    renames = {col: mapping[col] for col in frame.columns if col in mapping and mapping[col] not in frame.columns}
    for col in frame.columns:
        if col in renames:
            continue
        matches = [name for name in _LONG_NAMES if len(col) == FIELD_BYTES and name.startswith(col)]
        if len(matches) == 1 and matches[0] not in frame.columns:
            renames[col] = matches[0]
    return frame.rename(columns=renames) if renames else frame


def _truncated(path: Path, expected: int, actual: int) -> FileFormatError:
    return FileFormatError(
        f"{path} is truncated: its header promises {expected:,} bytes, the file has {actual:,}.",
        fix=f"copy or export the Shapefile again (all of {_PARTS}).",
    )


def _side(path: Path, suffix: str) -> Path | None:
    for p in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
        if p.exists():
            return p
    return None


def check_complete(path: Path) -> None:
    """Raise :class:`FileFormatError` for a Shapefile without its ``.shx`` or ``.dbf``, or cut short.

    GDAL reads a cut Shapefile as rows without geometry, so the sizes the headers promise are compared.
    """
    shx = _side(path, ".shx")
    if shx is None:
        raise FileFormatError(
            f"{path} has no .shx index file next to it; without it the shapes cannot be read.",
            fix=f"copy all the Shapefile's files {_PARTS} together.",
        )
    for part in (path, shx):
        with open(part, "rb") as fh:
            header = fh.read(28)
        size = part.stat().st_size
        # bytes 24-27: file length in 16-bit words, big-endian
        expected = int.from_bytes(header[24:28], "big") * 2 if len(header) == 28 else 100
        if size < expected:
            raise _truncated(part, expected, size)
    dbf = _side(path, ".dbf")
    if dbf is None:
        raise FileFormatError(
            f"{path} has no .dbf attribute file next to it; every attribute (ids, names, households) would be lost.",
            fix=f"copy all the Shapefile's files {_PARTS} together.",
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
