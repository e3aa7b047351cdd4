"""Attribute encoding of Shapefiles (.dbf) and CSV files: what the file declares, else a reported guess.

Chinese survey data often come GBK-encoded. The rule, in order:

1. ``--encoding`` (``encoding=``) when given, always;
2. what the file declares: a Shapefile's ``.cpg`` file, then the language-driver
   byte of its ``.dbf`` (byte 29, e.g. ``0x4D`` = code page 936, as ArcGIS writes
   GBK files; table :data:`DBF_CODE_PAGES`, from the dBASE/ArcGIS list GDAL uses);
   a CSV's UTF-8 byte-order mark;
3. a guess from the bytes: UTF-8 when they are valid UTF-8 and read as text
   (GBK bytes can happen to be valid UTF-8: 沙坪 in GBK reads as ɳƺ), else
   GB18030 (a superset of GBK and GB2312). A guess that mattered (non-ASCII text)
   is reported with a :class:`~gridgis.errors.FileWarning` naming the encoding.
"""

from __future__ import annotations

import codecs
import re
import warnings
from pathlib import Path

from gridgis.errors import FileFormatError, FileWarning
from gridgis.listing import brief

__all__ = [
    "DBF_CODE_PAGES",
    "FALLBACK_ENCODING",
    "dbf_code_page",
    "decode_error",
    "declared_encoding",
    "detect_encoding",
    "gdal_encoding",
    "read_cpg",
    "resolve_encoding",
]

FALLBACK_ENCODING = "GB18030"
_CHUNK = 1 << 20
#: bytes of text compared for the UTF-8 / GB18030 guess
_SAMPLE = 1 << 20

#: dBASE language-driver id (byte 29 of a .dbf) -> code page; 0x00 and 0x57 ("ANSI": the writer's
#: system code page, GBK on Chinese Windows) declare nothing usable.
DBF_CODE_PAGES = {
    0x01: "CP437", 0x02: "CP850", 0x03: "CP1252", 0x08: "CP865", 0x09: "CP437", 0x0A: "CP850",
    0x0B: "CP437", 0x0D: "CP437", 0x0E: "CP850", 0x0F: "CP437", 0x10: "CP850", 0x11: "CP437",
    0x12: "CP850", 0x13: "CP932", 0x14: "CP850", 0x15: "CP437", 0x16: "CP850", 0x17: "CP865",
    0x18: "CP437", 0x19: "CP437", 0x1A: "CP850", 0x1B: "CP437", 0x1C: "CP863", 0x1D: "CP850",
    0x1F: "CP852", 0x22: "CP852", 0x23: "CP852", 0x24: "CP860", 0x25: "CP850", 0x26: "CP866",
    0x37: "CP850", 0x40: "CP852", 0x4D: "CP936", 0x4E: "CP949", 0x4F: "CP950", 0x50: "CP874",
    0x58: "CP1252", 0x59: "CP1252", 0x64: "CP852", 0x65: "CP866", 0x66: "CP865", 0x67: "CP861",
    0x6A: "CP737", 0x6B: "CP857", 0x78: "CP950", 0x79: "CP949", 0x7A: "CP936", 0x7B: "CP932",
    0x7C: "CP874", 0x86: "CP737", 0x87: "CP852", 0x88: "CP857", 0xC8: "CP1250", 0xC9: "CP1251",
    0xCA: "CP1254", 0xCB: "CP1253", 0xCC: "CP1257",
}  # fmt: skip
_CJK = re.compile("[\u3400-\u9fff]")


def read_cpg(shp: Path) -> str | None:
    """The encoding declared by the ``.cpg`` file next to a Shapefile, if any."""
    for cpg in (shp.with_suffix(".cpg"), shp.with_suffix(".CPG")):
        if cpg.exists():
            with open(cpg, "rb") as fh:
                text = fh.read(64).decode("ascii", errors="ignore").strip()
            return text or None
    return None


def _dbf(shp: Path) -> Path | None:
    for dbf in (shp.with_suffix(".dbf"), shp.with_suffix(".DBF")):
        if dbf.exists():
            return dbf
    return None


def dbf_code_page(dbf: Path) -> str | None:
    """The code page declared by the language-driver byte of a ``.dbf`` (see :data:`DBF_CODE_PAGES`), or None."""
    with open(dbf, "rb") as fh:
        header = fh.read(32)
    return DBF_CODE_PAGES.get(header[29]) if len(header) >= 30 else None


def declared_encoding(path: str | Path) -> tuple[str, str] | None:
    """``(encoding, where it is declared)`` for a Shapefile (``.cpg``, .dbf code page) or a CSV (byte-order mark).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = p.write_bytes(codecs.BOM_UTF8 + "name\\n雅瑶镇\\n".encode("utf-8"))
    >>> declared_encoding(p)
    ('UTF-8', 'its byte-order mark')
    """
    path = Path(path)
    if path.suffix.lower() == ".shp":
        cpg = read_cpg(path)
        if cpg:
            return cpg, "its .cpg file"
        dbf = _dbf(path)
        if dbf is not None and (page := dbf_code_page(dbf)):
            with open(dbf, "rb") as fh:
                ldid = fh.read(30)[29]
            return page, f"the code page byte of its .dbf (0x{ldid:02X})"
        return None
    with open(path, "rb") as fh:
        if fh.read(3) == codecs.BOM_UTF8:
            return "UTF-8", "its byte-order mark"
    return None


def _text_sample(path: Path) -> tuple[bytes, int]:
    """The text bytes of a CSV or of a Shapefile's .dbf (field names, then records) and where the records start."""
    if path.suffix.lower() != ".shp":
        return b"", 0
    dbf = _dbf(path)
    if dbf is None:
        return b"", -1
    with open(dbf, "rb") as fh:
        header = fh.read(32)
        # The header length is stored at bytes 8-9; field descriptors (32 bytes, the name in the
        # first 11) follow the first 32 bytes. Names and records are text; the rest is binary.
        skip = int.from_bytes(header[8:10], "little") if len(header) >= 10 else 0
        descriptors = fh.read(min(max(skip - 32, 0), 1 << 20))
    names = b"".join(descriptors[i : i + 11].split(b"\x00")[0] for i in range(0, len(descriptors) - 31, 32))
    return names + b"\n", skip


def _scan(path: Path, head: bytes, skip: int) -> tuple[bool, bool, bytes]:
    """Whether the bytes from ``skip`` on (after ``head``) are valid UTF-8, whether all are ASCII, and a sample."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    ascii_only = head.isascii()
    sample = bytearray(head)
    valid = True
    with open(path, "rb") as fh:
        fh.seek(skip)
        try:
            decoder.decode(head)
            while chunk := fh.read(_CHUNK):
                ascii_only = ascii_only and chunk.isascii()
                if len(sample) < _SAMPLE and not chunk.isascii():
                    sample += chunk[: _SAMPLE - len(sample)]
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            valid = False
    return valid, ascii_only, bytes(sample)


def _looks_like_gbk(sample: bytes) -> bool:
    """Valid UTF-8 that reads as Chinese in GB18030 but not in UTF-8 (沙坪 in GBK is ɳƺ in UTF-8)."""
    as_utf8 = sample.decode("utf-8", errors="ignore")
    as_gbk = sample.decode(FALLBACK_ENCODING, errors="ignore")
    return len(_CJK.findall(as_gbk)) > 2 * len(_CJK.findall(as_utf8))


def _guess(path: Path) -> tuple[str, bool]:
    """The guessed encoding of ``path``'s text and whether the guess mattered (any non-ASCII byte)."""
    head, skip = _text_sample(path)
    if skip < 0:  # a Shapefile without .dbf: nothing to decode
        return "UTF-8", False
    target = _dbf(path) if path.suffix.lower() == ".shp" else path
    valid, ascii_only, sample = _scan(target, head, skip)
    if ascii_only:
        return "UTF-8", False
    if valid and not _looks_like_gbk(sample):
        return "UTF-8", True
    return FALLBACK_ENCODING, True


def detect_encoding(path: str | Path) -> str:
    """The encoding of a Shapefile's attributes (its .dbf) or a CSV file: declared, else guessed.

    Returns what the file declares (see :func:`declared_encoding`), else
    ``"UTF-8"`` when the text bytes are valid UTF-8 and read as text (plain ASCII
    included), else ``"GB18030"``.

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
    >>> _ = p.write_bytes("name\\n沙坪\\n坪山\\n".encode("gbk"))  # valid UTF-8 bytes too
    >>> detect_encoding(p)
    'GB18030'
    """
    path = Path(path)
    declared = declared_encoding(path)
    return declared[0] if declared else _guess(path)[0]


def resolve_encoding(path: str | Path, encoding: str | None = None) -> str:
    """The encoding to read ``path`` with: ``encoding`` when given, else declared, else guessed.

    Warns
    -----
    FileWarning
        When the encoding was guessed and the file holds non-ASCII text: the warning
        names the encoding and how to give another (``--encoding``).

    Raises
    ------
    FileFormatError
        ``encoding`` (or a declared one) is not an encoding Python knows.
    """
    path = Path(path)
    if encoding is None:
        declared = declared_encoding(path)
        if declared:
            encoding = declared[0]
        else:
            encoding, mattered = _guess(path)
            if mattered:
                shp = path.suffix.lower() == ".shp"
                where = "no .cpg file and no code page in its .dbf" if shp else "no declaration"
                warnings.warn(
                    f"{path}: text read as {encoding}, guessed from its bytes ({where}); "
                    "if names look wrong, give the encoding with --encoding (e.g. GBK, UTF-8).",
                    FileWarning,
                    stacklevel=2,
                )
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise decode_error(path, encoding, exc) from exc
    return encoding


def gdal_encoding(path: Path, fmt: str, encoding: str | None) -> str | None:
    """The encoding to hand GDAL for ``path``: for a Shapefile :func:`resolve_encoding`; else the given one
    (GeoPackage and GeoJSON are UTF-8 by definition)."""
    if fmt == "Shapefile":
        return resolve_encoding(path, encoding)
    return encoding


def decode_error(path: Path, encoding: str, exc: Exception, what: str = "attributes") -> FileFormatError:
    """The error for text of ``path`` that ``encoding`` cannot decode (or an unknown encoding name)."""
    if isinstance(exc, LookupError) and not isinstance(exc, UnicodeError):
        return FileFormatError(
            f"{path}: {encoding!r} is not a known encoding.",
            fix="give one with --encoding (e.g. GBK, GB18030, UTF-8).",
        )
    declared = declared_encoding(path) if path.suffix.lower() in (".shp", ".csv") else None
    hint = f" (declared by {declared[1]})" if declared and declared[0] == encoding else ""
    return FileFormatError(
        f"{path}: cannot decode the {what} as {encoding!r}{hint}: {brief(exc, 120)}.",
        fix="give the right encoding with --encoding (e.g. GBK, GB18030, UTF-8), or re-export the file as UTF-8.",
    )
