"""Writing layers atomically (:func:`write_layer`, :func:`write_layers`); the format comes from the suffix.

Every write goes to a temporary file in the target directory, then
``os.replace`` (:mod:`gridgis.io.atomic`): a failed write leaves no output behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd

from gridgis.errors import CRSError, FileFormatError, InputError
from gridgis.io.atomic import atomic_dir, atomic_path
from gridgis.io.formats import MULTI_LAYER, file_format, write_frame
from gridgis.io.shapefile import check_names

__all__ = ["write_layer", "write_layers"]


def _check_writable(gdf: gpd.GeoDataFrame, name: str) -> None:
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError(f"Layer {name!r} is a {type(gdf).__name__}, not a GeoDataFrame.", fix="pass a GeoDataFrame.")
    if gdf.crs is None:
        raise CRSError(f"Layer {name!r} has no CRS; it would be written without one.", fix="set it (gdf.set_crs(...)).")


def _rewrap(exc: FileFormatError, path: Path) -> FileFormatError:
    return FileFormatError(f"{path}: {exc.message} Nothing was written.", fix=exc.fix, details=exc.details)


def _os_error(exc: OSError, path: Path) -> FileFormatError:
    return FileFormatError(
        f"Cannot write {path}: {exc.strerror or exc}. Nothing was written.",
        fix="check that the directory is writable and the disk has space.",
    )


def write_layer(gdf: gpd.GeoDataFrame, path: str | Path, layer: str | None = None) -> None:
    """Write one layer atomically; the format comes from the suffix.

    For a GeoPackage, ``layer`` (default: the file's stem) is added to the file,
    or replaces the layer of that name; the other layers are kept. Other
    formats hold one layer and are replaced whole. CSV files get ``lon``/``lat``
    columns for points and a ``wkt`` column otherwise, UTF-8 with a byte-order
    mark (so that Excel shows Chinese text).

    Raises
    ------
    FileFormatError
        Unknown suffix, or a layer the format cannot hold; no file is left behind.
    CRSError
        A layer without a CRS.

    Examples
    --------
    >>> import tempfile, os
    >>> from gridgis.io.read import read_layer
    >>> from gridgis.paths import HESHAN_OUTLINE
    >>> out = os.path.join(tempfile.mkdtemp(), "heshan.parquet")
    >>> write_layer(read_layer(HESHAN_OUTLINE), out)
    >>> len(read_layer(out))
    1
    """
    path = Path(path)
    fmt = file_format(path)
    name = layer or path.stem
    _check_writable(gdf, name)
    try:
        if fmt == "Shapefile":
            check_names(gdf, path)
            with atomic_dir(path) as tmp:
                write_frame(gdf, tmp / path.name, fmt, layer=None, name=name)
        else:
            with atomic_path(path, copy_existing=fmt in MULTI_LAYER) as tmp:
                write_frame(gdf, tmp, fmt, layer=name if fmt in MULTI_LAYER else None, name=name)
    except FileFormatError as exc:
        raise _rewrap(exc, path) from exc
    except OSError as exc:
        raise _os_error(exc, path) from exc


def write_layers(layers: Mapping[str, gpd.GeoDataFrame], path: str | Path) -> None:
    """Write several layers into one new GeoPackage atomically (replacing ``path``).

    Raises
    ------
    FileFormatError
        ``path`` is not a ``.gpkg``, or a layer cannot be written; no file is left behind.

    Examples
    --------
    >>> import tempfile, os
    >>> from gridgis.io.read import list_layers, read_layer
    >>> from gridgis.paths import HESHAN_OUTLINE
    >>> out = os.path.join(tempfile.mkdtemp(), "two.gpkg")
    >>> outline = read_layer(HESHAN_OUTLINE)
    >>> write_layers({"a": outline, "b": outline}, out)
    >>> list_layers(out)
    ['a', 'b']
    """
    path = Path(path)
    fmt = file_format(path)
    if fmt not in MULTI_LAYER:
        raise FileFormatError(
            f"{path}: a {fmt} file holds one layer, not {len(layers)}.",
            fix="write a GeoPackage (.gpkg), or one file per layer with write_layer().",
        )
    if not layers:
        raise InputError(f"No layers to write to {path}.", fix="pass at least one layer.")
    for name, gdf in layers.items():
        _check_writable(gdf, name)
    try:
        with atomic_path(path) as tmp:
            for name, gdf in layers.items():
                write_frame(gdf, tmp, fmt, layer=name, name=name)
    except FileFormatError as exc:
        raise _rewrap(exc, path) from exc
    except OSError as exc:
        raise _os_error(exc, path) from exc
