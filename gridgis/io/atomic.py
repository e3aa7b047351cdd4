"""Atomic output: write to a temporary file in the target directory, then ``os.replace``.

An interrupted or failed write leaves the previous file (or nothing) in
place, never a half-written one; the temporary file is removed on failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["SHAPEFILE_PARTS", "atomic_dir", "atomic_path"]

# Side files SQLite (GeoPackage) may leave next to a temporary file.
_SQLITE_SIDES = ("-journal", "-wal", "-shm")
#: Files that make up one Shapefile (stale ones of an older version are removed).
SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".qmd", ".shp.xml", ".fields.csv")


def _remove(path: Path) -> None:
    for p in (path, *(path.with_name(path.name + s) for s in _SQLITE_SIDES)):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


@contextlib.contextmanager
def atomic_path(path: str | Path, *, copy_existing: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` (same suffix); move it over ``path`` on success.

    ``copy_existing`` starts the temporary file as a copy of ``path`` (to add a
    layer to an existing GeoPackage).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()  # writers (GDAL) want to create the file themselves
    try:
        if copy_existing and path.exists():
            shutil.copy2(path, tmp)
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary directory next to ``path`` for multi-file formats (Shapefile).

    On success every file in it named ``<stem>.*`` replaces its namesake next
    to ``path``, the main file (``path`` itself) last, and stale side files of
    an older version (any of :data:`SHAPEFILE_PARTS`, e.g. a spatial index) are removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        written = sorted(tmp.iterdir(), key=lambda p: p.suffix.lower() == path.suffix.lower())
        names = {p.name for p in written}
        for suffix in SHAPEFILE_PARTS:
            old = path.parent / f"{path.stem}{suffix}"
            if old.name not in names:
                old.unlink(missing_ok=True)
        for p in written:
            os.replace(p, path.parent / p.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
