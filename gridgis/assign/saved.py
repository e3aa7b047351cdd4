"""The grid index kept with its plan: built once, read back in milliseconds, rebuilt when stale.

A plan ``heshan_plan.gpkg`` keeps the :class:`~gridgis.assign.GridIndex` of its grids beside it in
``heshan_plan.gridindex.npz`` (as its quality report sits in ``heshan_plan.report.json``):
a NumPy ``.npz`` archive (no pickles) of :meth:`GridIndex.parts` plus

* ``format``: :data:`FORMAT`, the layout of this file;
* ``fingerprint``: :func:`~gridgis.assign.index.grids_fingerprint` of the grids it indexes (their
  WKB in row order, CRS, cells asked for, and the table's construction version).

:func:`kept_index` reads the file when its format and fingerprint match the plan's grids, and
otherwise (missing, older format, a plan edited since, a damaged file) builds the index and writes
the file again. The table read back is the array the build made from the same grids, so the
exactness argument of :mod:`gridgis.assign.index` holds for it unchanged; the grids' geometries
themselves always come from the plan. ``gridgis partition`` writes the file with the plan;
``gridgis assign`` writes it on first use when the plan's directory is writable.
"""

from __future__ import annotations

import contextlib
import io
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np

from gridgis.assign.index import GridIndex, grid_geometries, grids_fingerprint
from gridgis.io.atomic import atomic_path

__all__ = ["FORMAT", "SUFFIX", "index_bytes", "index_from_bytes", "kept_index", "load_index", "save_index", "sidecar"]

#: Layout version of the ``.gridindex.npz`` file.
FORMAT = 1
#: Suffix of the file kept beside a plan.
SUFFIX = ".gridindex.npz"
_PARTS = ("values", "lengths", "cand_ptr", "cand_grid", "placement", "shape")


def sidecar(plan: str | Path) -> Path:
    """Path of the index kept beside ``plan`` (``plan.gpkg`` -> ``plan.gridindex.npz``)."""
    return Path(plan).with_suffix(SUFFIX)


def index_bytes(index: GridIndex) -> bytes:
    """``index`` as the bytes of a ``.gridindex.npz`` file (for a file, or a store's column)."""
    out = io.BytesIO()
    np.savez(out, format=np.array(FORMAT), fingerprint=np.array(index.fingerprint), **index.parts())
    return out.getvalue()


def index_from_bytes(data: bytes | io.IOBase | str | Path, grids, *, cells: int | None = None) -> GridIndex | None:
    """The index held in ``data`` (bytes, a file object or a path) for these ``grids``, or None when
    ``data`` is of another format, built for other grids or cells, or unreadable.

    ``grids`` with a matching fingerprint are the grids the kept index was built (and checked) from;
    other grids are not checked here (:class:`GridIndex` does that when it builds).
    """
    if not isinstance(grids, gpd.GeoDataFrame | gpd.GeoSeries) or grids.crs is None:
        return None
    series = grids.geometry if isinstance(grids, gpd.GeoDataFrame) else grids
    geoms = np.asarray(series.values, dtype=object)
    source = io.BytesIO(data) if isinstance(data, bytes | bytearray | memoryview) else data
    try:
        with np.load(source, allow_pickle=False) as arrays:
            if int(arrays["format"]) != FORMAT:
                return None
            if str(arrays["fingerprint"]) != grids_fingerprint(geoms, series.crs, cells):
                return None
            parts = {name: arrays[name] for name in _PARTS}
        return GridIndex.from_parts(geoms, series.crs, cells, parts)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError):
        return None


def save_index(index: GridIndex, path: str | Path) -> Path:
    """Write ``index`` to ``path`` atomically (a failed write leaves the old file or none)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(index_bytes(index))
    return path


def load_index(path: str | Path, grids: gpd.GeoDataFrame | gpd.GeoSeries, *, cells: int | None = None):
    """The index kept at ``path`` for these ``grids``, or None when it is missing or
    :func:`index_from_bytes` finds it stale or unreadable."""
    path = Path(path)
    return index_from_bytes(path, grids, cells=cells) if path.is_file() else None


def kept_index(grids: gpd.GeoDataFrame | gpd.GeoSeries, plan: str | Path, *, cells: int | None = None) -> GridIndex:
    """The :class:`GridIndex` of ``grids`` (the grids layer of ``plan``): read from :func:`sidecar`
    when it is fresh, else built and written there (skipped silently when the directory is not writable:
    the index is then built on each call).

    Raises what :class:`GridIndex` raises for bad grids.
    """
    path = sidecar(plan)
    index = load_index(path, grids, cells=cells)
    if index is None:
        grid_geometries(grids)  # bad grids raise here, before any file is touched
        index = GridIndex(grids, cells=cells)
        with contextlib.suppress(OSError):
            save_index(index, path)
    return index
