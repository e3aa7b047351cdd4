"""Writing layers atomically (:func:`write_layer`, :func:`write_layers`); the format comes from the suffix.

Every write goes to a temporary file in the target directory, then
``os.replace`` (:mod:`gridgis.io.atomic`): a failed write leaves no output behind.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import pandas as pd

from gridgis.errors import CRSError, FileFormatError, FileWarning, InputError
from gridgis.io.atomic import atomic_dir, atomic_path
from gridgis.io.formats import MULTI_LAYER, file_format, write_frame
from gridgis.io.shapefile import field_names, write_mapping
from gridgis.io.xlsx import write_xlsx
from gridgis.listing import listing
from gridgis.progress import task

__all__ = ["DBF_TEXT_BYTES", "shapefile_frame", "write_layer", "write_layers"]

#: bytes a .dbf text field holds
DBF_TEXT_BYTES = 254


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


def shapefile_frame(gdf: gpd.GeoDataFrame, path: Path) -> tuple[gpd.GeoDataFrame, dict[str, str]]:
    """``gdf`` with its columns renamed to .dbf field names (:func:`~gridgis.io.shapefile.field_names`), and the
    mapping; warns when text values exceed the 254 bytes a .dbf field holds (GDAL cuts them)."""
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    names = field_names(columns)
    for col in columns:
        values = gdf[col]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            size = values.dropna().astype(str).str.encode("utf-8").str.len()
            if (size > DBF_TEXT_BYTES).any():
                warnings.warn(
                    f"{path}: {int((size > DBF_TEXT_BYTES).sum()):,} value(s) of column {col!r} exceed the "
                    f"{DBF_TEXT_BYTES} bytes a Shapefile field holds and are cut; a GeoPackage (.gpkg) keeps them.",
                    FileWarning,
                    stacklevel=3,
                )
    return gdf.rename(columns=names), names


def write_layer(gdf: gpd.GeoDataFrame, path: str | Path, layer: str | None = None) -> None:
    """Write one layer atomically; the format comes from the suffix.

    For a GeoPackage, ``layer`` (default: the file's stem) is added to the file,
    or replaces the layer of that name; the other layers are kept. Other
    formats hold one layer and are replaced whole. CSV files get ``lon``/``lat``
    columns for points and a ``wkt`` column otherwise, UTF-8 with a byte-order
    mark (so that Excel shows Chinese text). Shapefile column names are cut to
    10 bytes on character boundaries, the full names written beside
    (:mod:`gridgis.io.shapefile`); XLSX is a table for people
    (:mod:`gridgis.io.xlsx`); KML placemarks are named by ``name``/``grid_code``.

    Warns
    -----
    FileWarning
        Shapefile column names cut, or text values longer than a .dbf holds.

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
    fmt = file_format(path, writing=True)
    name = layer or path.stem
    _check_writable(gdf, name)
    try:
        if fmt == "Shapefile":
            gdf, names = shapefile_frame(gdf, path)
            with atomic_dir(path) as tmp:
                write_frame(gdf, tmp / path.name, fmt, layer=None, name=name)
                write_mapping(tmp / path.name, names, target=path)
        elif fmt == "XLSX":
            with atomic_path(path) as tmp:
                write_xlsx(gdf, tmp, sheet=name)
        else:
            with atomic_path(path, copy_existing=fmt in MULTI_LAYER) as tmp:
                write_frame(gdf, tmp, fmt, layer=name if fmt in (*MULTI_LAYER, "KML") else None, name=name)
    except FileFormatError as exc:
        raise _rewrap(exc, path) from exc
    except OSError as exc:
        raise _os_error(exc, path) from exc


def write_layers(layers: Mapping[str, gpd.GeoDataFrame], path: str | Path) -> None:
    """Write several layers into one new GeoPackage atomically (replacing ``path``); one layer may go to
    any format :func:`write_layer` writes.

    Raises
    ------
    FileFormatError
        Several layers for a single-layer format, or a layer that cannot be written; no file is left behind.

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
    fmt = file_format(path, writing=True)
    if not layers:
        raise InputError(f"No layers to write to {path}.", fix="pass at least one layer.")
    if fmt not in MULTI_LAYER:
        if len(layers) == 1:
            (name, gdf), *_ = layers.items()
            return write_layer(gdf, path, name)
        raise FileFormatError(
            f"{path}: a {fmt} file holds one layer, not {len(layers)} ({listing(layers)}).",
            fix="write a GeoPackage (.gpkg), or one file per layer (gridgis export --layer NAME).",
        )
    for name, gdf in layers.items():
        _check_writable(gdf, name)
    try:
        with atomic_path(path) as tmp, task(f"writing {path.name}", total=sum(map(len, layers.values()))) as bar:
            for name, gdf in layers.items():
                write_frame(gdf, tmp, fmt, layer=name, name=name)
                bar.advance(len(gdf))
    except FileFormatError as exc:
        raise _rewrap(exc, path) from exc
    except OSError as exc:
        raise _os_error(exc, path) from exc
