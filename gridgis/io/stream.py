"""Reading and writing files in chunks, for files larger than memory.

:func:`iter_features` streams GeoPackage, GeoJSON and Shapefile inputs in Arrow
batches (pyogrio) and GeoParquet by Parquet batches; a CSV is read whole, then
handed on in chunks. Each chunk is prepared as :func:`gridgis.io.read_layer`
prepares a whole layer (EPSG:4326, repaired). :func:`write_chunks` writes such
a stream as one layer, atomically.
"""

from __future__ import annotations

import itertools
import json
import warnings
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio
import shapely

from gridgis.errors import FileFormatError, GridgisError, InputError
from gridgis.io.atomic import atomic_dir, atomic_path
from gridgis.io.encoding import decode_error, gdal_encoding
from gridgis.io.formats import (
    DRIVERS,
    MULTI_LAYER,
    check_readable,
    file_format,
    gdal_write_options,
    read_frame,
    resolve_layer,
    unreadable,
)
from gridgis.io.lonlat_csv import iter_csv, to_csv_frame
from gridgis.io.read import CRSInput, prepare_layer
from gridgis.io.shapefile import restore_long_names, write_mapping
from gridgis.io.write import shapefile_frame, write_layer
from gridgis.listing import brief

__all__ = ["DEFAULT_CHUNK", "count_features", "iter_features", "write_chunks"]

#: features held in memory at a time by default
DEFAULT_CHUNK = 500_000


def count_features(path: str | Path, layer: str | None = None) -> int | None:
    """Number of features in a file when the format knows it cheaply (GDAL formats, GeoParquet), else None.

    Examples
    --------
    >>> from gridgis.paths import HESHAN_OUTLINE
    >>> count_features(HESHAN_OUTLINE)
    1
    """
    path = check_readable(path)
    fmt = file_format(path)
    try:
        if fmt == "GeoParquet":
            return pq.ParquetFile(path).metadata.num_rows
        if fmt in DRIVERS:
            name = resolve_layer(path, layer) if fmt in MULTI_LAYER else None
            n = pyogrio.read_info(path, layer=name)["features"]
            return n if n >= 0 else None
    except GridgisError:
        raise
    except UnicodeDecodeError:  # column names the readers repair (or refuse) with a clearer message
        return None
    except Exception as exc:  # GDAL and pyarrow raise many kinds
        raise unreadable(path, exc) from exc
    return None


def iter_features(
    path: str | Path,
    layer: str | None = None,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    crs: CRSInput = None,
    encoding: str | None = None,
    lon: str = "lon",
    lat: str = "lat",
) -> Iterator[gpd.GeoDataFrame]:
    """Yield the features of a file in chunks of at most ``chunk_size`` rows.

    Each chunk is prepared as :func:`gridgis.io.read_layer` prepares a whole
    layer (EPSG:4326, repaired; ``layer``, ``crs``, ``encoding``, ``lon`` and
    ``lat`` as there). Row labels run on across chunks (0, 1, ... in file order).
    Memory holds one chunk: CSV files are parsed in chunks too.

    Raises
    ------
    FileFormatError
        As :func:`gridgis.io.read_layer`; a library error met while streaming
        is raised as one, naming the file.

    Examples
    --------
    >>> from gridgis.paths import HESHAN_OUTLINE
    >>> [(len(chunk), chunk.crs.to_epsg()) for chunk in iter_features(HESHAN_OUTLINE, chunk_size=1)]
    [(1, 4326)]
    """
    if chunk_size < 1:
        raise InputError(f"Chunk size {chunk_size} is not a positive number of features.", fix="use e.g. 500000.")
    path = check_readable(path)
    fmt = file_format(path)
    name = resolve_layer(path, layer)
    start = 0
    for frame in _guarded(path, _raw_chunks(path, fmt, name, chunk_size, encoding, lon, lat)):
        frame.index = pd.RangeIndex(start, start + len(frame))
        start += len(frame)
        yield prepare_layer(frame, name, source=str(path), crs=crs, validate=False)


def _guarded(path: Path, chunks: Iterator[gpd.GeoDataFrame]) -> Iterator[gpd.GeoDataFrame]:
    """``chunks`` with any library error (GDAL, pyarrow, JSON...) raised as one FileFormatError naming ``path``."""
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        except (GridgisError, MemoryError):
            raise
        except (UnicodeDecodeError, LookupError) as exc:
            raise decode_error(path, "the declared or detected encoding", exc) from exc
        except Exception as exc:  # a reader fails in many ways on a damaged file
            raise unreadable(path, exc) from exc
        yield chunk


def _raw_chunks(
    path: Path, fmt: str, name: str, chunk_size: int, encoding, lon: str, lat: str
) -> Iterator[gpd.GeoDataFrame]:
    if fmt == "GeoParquet":
        file = pq.ParquetFile(path)
        metadata = file.schema_arrow.metadata or {}
        if b"geo" not in metadata:
            raise FileFormatError(
                f"{path} is a Parquet file without GeoParquet metadata.",
                fix="write it with GeoDataFrame.to_parquet(), or export a CSV with lon/lat columns.",
            )
        geo = json.loads(metadata[b"geo"])
        column = geo.get("primary_column", "geometry")
        crs = geo.get("columns", {}).get(column, {}).get("crs", "OGC:CRS84")
        for batch in file.iter_batches(batch_size=chunk_size):
            frame = batch.to_pandas()
            geometry = shapely.from_wkb(frame.pop(column).to_numpy())
            yield gpd.GeoDataFrame(frame, geometry=geometry, crs=crs)
    elif fmt in DRIVERS:
        layer = name if fmt in MULTI_LAYER else None
        encoding = gdal_encoding(path, fmt, encoding)
        started = False
        try:
            with pyogrio.open_arrow(path, layer=layer, batch_size=chunk_size, use_pyarrow=True, encoding=encoding) as (
                meta,
                reader,
            ):
                if meta.get("geometry_type") is None:
                    raise FileFormatError(
                        f"{path}{f' layer {layer!r}' if layer else ''} has no geometry column.",
                        fix="export it with its geometries (or as CSV with lon/lat columns).",
                    )
                for batch in reader:
                    started = True
                    frame = gpd.GeoDataFrame.from_arrow(pa.Table.from_batches([batch]))
                    frame = frame.rename_geometry("geometry") if frame.geometry.name != "geometry" else frame
                    yield restore_long_names(frame, path) if fmt == "Shapefile" else frame
        except UnicodeDecodeError:
            if started or fmt != "Shapefile":
                raise
            # column names cut inside a character: the whole-file reader repairs them (with a warning)
            frame, _ = read_frame(path, layer, encoding=encoding, lon=lon, lat=lat)
            for lo in range(0, len(frame), chunk_size):
                yield frame.iloc[lo : lo + chunk_size].reset_index(drop=True)
    else:  # CSV: parsed in chunks
        yield from iter_csv(path, encoding, lon, lat, chunk_size)


def _arrow(chunk: gpd.GeoDataFrame) -> pa.Table:
    return pa.table(chunk.to_arrow(index=False, geometry_encoding="WKB"))


def write_chunks(chunks: Iterator[gpd.GeoDataFrame], path: str | Path, layer: str | None = None) -> int:
    """Write a stream of chunks (same columns) as one layer, atomically; return the number of features.

    GeoPackage, GeoJSON and Shapefile are written by one streaming GDAL call
    (one spatial index build, not one per chunk), GeoParquet by row groups,
    CSV by appends; only one chunk is held at a time. KML and XLSX (files for
    people, an XLSX sheet holds about a million rows) are gathered and written
    whole. Nothing is written when there is no feature (0 is returned) or any
    chunk fails.
    """
    path = Path(path)
    fmt = file_format(path, writing=True)
    chunks = (chunk for chunk in chunks if len(chunk))
    first = next(chunks, None)
    if first is None:
        return 0
    stream = itertools.chain([first], chunks)
    count = 0
    if fmt in ("KML", "XLSX"):
        frames = list(stream)
        write_layer(pd.concat(frames) if len(frames) > 1 else frames[0], path, layer)
        return sum(map(len, frames))
    names: dict[str, str] = {}
    if fmt == "Shapefile":
        first, names = shapefile_frame(first, path)
        stream = itertools.chain([first], (chunk.rename(columns=names) for chunk in chunks))

    def counted(frames):
        nonlocal count
        for frame in frames:
            count += len(frame)
            yield frame

    with ExitStack() as stack:
        if fmt == "Shapefile":
            tmp = stack.enter_context(atomic_dir(path)) / path.name
        else:
            tmp = stack.enter_context(atomic_path(path))
        if fmt == "CSV":
            for i, chunk in enumerate(counted(stream)):
                head = {"header": True, "encoding": "utf-8-sig"} if i == 0 else {"header": False, "mode": "a"}
                to_csv_frame(chunk, path).to_csv(tmp, index=False, **head)
            return count
        schema = _arrow(first).schema
        tables = (_arrow(chunk).cast(schema) for chunk in counted(stream))
        if fmt == "GeoParquet":
            geo = {
                "version": "1.0.0",
                "primary_column": first.geometry.name,
                "columns": {
                    first.geometry.name: {"encoding": "WKB", "geometry_types": [], "crs": first.crs.to_json_dict()}
                },
            }
            with pq.ParquetWriter(tmp, schema.with_metadata({b"geo": json.dumps(geo).encode()})) as writer:
                for table in tables:
                    writer.write_table(table)
            return count
        points = (shapely.get_type_id(np.asarray(first.geometry.values, dtype=object)) == 0).all()
        geometry_type = "Point" if points else "MultiPolygon" if fmt == "Shapefile" else "Unknown"
        failure: list[BaseException] = []

        def batches_of(tables_):
            try:
                for table in tables_:
                    yield from table.to_batches()
            except Exception as exc:  # GDAL reports it as a stream error: keep ours to raise instead
                failure.append(exc)
                raise

        batches = pa.RecordBatchReader.from_batches(schema, batches_of(tables))
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*Normalized/laundered.*")
                pyogrio.write_arrow(
                    batches,
                    tmp,
                    layer=layer if fmt == "GeoPackage" else None,
                    driver=DRIVERS[fmt],
                    geometry_type=geometry_type,
                    crs=first.crs.to_wkt(),
                    **gdal_write_options(fmt, first),
                )
        except Exception as exc:
            if failure:
                raise failure[0] from None
            raise FileFormatError(
                f"Cannot write {path}: {brief(exc, 160)}. Nothing was written.",
                fix="write a GeoPackage (.gpkg), which takes any columns and geometry types.",
            ) from exc
        if fmt == "Shapefile":
            write_mapping(tmp, names, target=path)
    return count
