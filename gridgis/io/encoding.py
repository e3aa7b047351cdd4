"""Attribute encoding detection for Shapefiles (.dbf) and CSV files.

Chinese survey data often come GBK-encoded. The rule is simple and
documented: a Shapefile's ``.cpg`` file wins; otherwise the bytes are tried
as UTF-8 and, when they are not valid UTF-8, read as GB18030 (a superset of
GBK and GB2312).
"""

from __future__ import annotations

import codecs
from pathlib import Path

from gridgis.errors import FileFormatError

__all__ = ["FALLBACK_ENCODING", "decode_error", "detect_encoding", "gdal_encoding", "read_cpg"]

FALLBACK_ENCODING = "GB18030"
_CHUNK = 1 << 20


def read_cpg(shp: Path) -> str | None:
    """The encoding declared by the ``.cpg`` file next to a Shapefile, if any."""
    for cpg in (shp.with_suffix(".cpg"), shp.with_suffix(".CPG")):
        if cpg.exists():
            text = cpg.read_text(encoding="ascii", errors="ignore").strip()
            return text or None
    return None


def _is_utf8(path: Path, skip: int = 0) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as fh:
        fh.seek(skip)
        try:
            while chunk := fh.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def detect_encoding(path: str | Path) -> str:
    """Guess the attribute encoding of a Shapefile (its .dbf) or a CSV file.

    Returns ``"UTF-8"`` when the text bytes are valid UTF-8 (plain ASCII
    included), else ``"GB18030"``. A Shapefile's ``.cpg`` is honoured first.

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> p = Path(d) / "a.csv"
    >>> _ = p.write_bytes("name\\n雅瑶镇\\n".encode("gbk"))
    >>> detect_encoding(p)
    'GB18030'
    >>> _ = p.write_bytes("name\\n雅瑶镇\\n".encode("utf-8"))
    >>> detect_encoding(p)
    'UTF-8'
    """
    path = Path(path)
    if path.suffix.lower() == ".shp":
        declared = read_cpg(path)
        if declared:
            return declared
        dbf = path.with_suffix(".dbf")
        if not dbf.exists():
            dbf = path.with_suffix(".DBF")
        if not dbf.exists():
            return "UTF-8"
        with open(dbf, "rb") as fh:
            header = fh.read(32)
            # The header length is stored at bytes 8-9; field descriptors (32 bytes, the name in the
            # first 11) follow the first 32 bytes. Names and records are text; the rest is binary.
            skip = int.from_bytes(header[8:10], "little") if len(header) >= 10 else 0
            descriptors = fh.read(max(skip - 32, 0))
        names = b"".join(descriptors[i : i + 11].split(b"\x00")[0] for i in range(0, len(descriptors) - 31, 32))
        try:
            names.decode("utf-8")
        except UnicodeDecodeError:
            return FALLBACK_ENCODING
        return "UTF-8" if _is_utf8(dbf, skip) else FALLBACK_ENCODING
    return "UTF-8" if _is_utf8(path) else FALLBACK_ENCODING


def gdal_encoding(path: Path, fmt: str, encoding: str | None) -> str | None:
    """The encoding to hand GDAL for ``path``: the given one; for a Shapefile without ``.cpg`` the detected one
    (GBK/GB18030 files often lack a .cpg); else None (GDAL reads the ``.cpg`` or the format's own encoding)."""
    if encoding is None and fmt == "Shapefile" and read_cpg(path) is None:
        return detect_encoding(path)
    return encoding


def decode_error(path: Path, encoding: str, exc: Exception, what: str = "attributes") -> FileFormatError:
    """The error for text of ``path`` that ``encoding`` cannot decode (or an unknown encoding name)."""
    return FileFormatError(
        f"{path}: cannot decode the {what} as {encoding!r}: {exc}.",
        fix="give the right encoding with --encoding (e.g. GBK, GB18030, UTF-8).",
    )
